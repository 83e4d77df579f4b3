using OrleansSecureCache.Cli;

// osc: argument handling and hosting only; everything else is in CliApp, CliCommands and the client library.
await using var stdin = Console.OpenStandardInput();
await using var stdout = Console.OpenStandardOutput();
return await CliApp.RunAsync(args, stdin, stdout, Console.Error, new CliEnvironment { HandleTermination = true });
