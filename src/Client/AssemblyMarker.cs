namespace OrleansSecureCache; internal static class AssemblyMarker {}
