namespace OrleansSecureCache.Grains; internal static class AssemblyMarker {}
