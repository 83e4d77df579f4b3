// Clusters are heavy on 2 cores: run test collections one at a time so timings stay meaningful.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
