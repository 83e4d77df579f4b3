using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;

using OrleansSecureCache.Grains;

namespace OrleansSecureCache.Silo;

public static class SiloBuilderExtensions
{
    /// <summary>
    /// Registers what the cache grain needs in a silo: validated <see cref="SecureCacheGrainOptions"/> and,
    /// unless <paramref name="addMemoryStorage"/> is false (another provider was registered under
    /// <see cref="SecureCacheGrainOptions.StorageName"/>), in-memory grain storage with Orleans' binary
    /// serializer (the default JSON one inflates byte arrays about threefold).
    /// </summary>
    public static ISiloBuilder AddSecureCacheGrains(this ISiloBuilder builder, Action<SecureCacheGrainOptions>? configure = null, bool addMemoryStorage = true)
    {
        var options = builder.Services.AddOptions<SecureCacheGrainOptions>()
            .ValidateDataAnnotations()
            .ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        builder.Services.AddSingleton<IValidateOptions<SecureCacheGrainOptions>, GrainOptionsValidator>();
        builder.AddSecureCacheMemoryBudget();
        if (addMemoryStorage)
        {
            builder.AddMemoryGrainStorage(SecureCacheGrainOptions.StorageName, ob => ob.Configure<Serializer>(
                (o, serializer) => o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer)));
        }

        return builder;
    }

    private sealed class GrainOptionsValidator : IValidateOptions<SecureCacheGrainOptions>
    {
        public ValidateOptionsResult Validate(string? name, SecureCacheGrainOptions options)
        {
            var errors = options.Validate().ToList();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
