using Xunit;

namespace OrleansSecureCache.Tests.Keys;

public class CacheKeyTypeTests
{
    [Fact]
    public void Keys_Of_NullThrowsNamingKey()
    {
        var ex = Assert.Throws<ArgumentNullException>(() => CacheKey.Of(null!));
        Assert.Equal("key", ex.ParamName);
        var ex2 = Assert.Throws<ArgumentNullException>(() => { CacheKey k = (string)null!; });
        Assert.Equal("key", ex2.ParamName);
    }

    [Fact]
    public void Keys_FromParts_NullArrayThrowsNamingParts()
    {
        var ex = Assert.Throws<ArgumentNullException>(() => CacheKey.FromParts(null!));
        Assert.Equal("parts", ex.ParamName);
        var ex2 = Assert.Throws<ArgumentNullException>(() => { CacheKey k = (string[])null!; });
        Assert.Equal("parts", ex2.ParamName);
    }

    [Fact]
    public void Keys_FromParts_NullElementThrowsNamingIndex()
    {
        var ex = Assert.Throws<ArgumentNullException>(() => CacheKey.FromParts("a", "b", null!));
        Assert.Equal("parts", ex.ParamName);
        Assert.Contains("index 2", ex.Message, StringComparison.Ordinal);
        var ex2 = Assert.Throws<ArgumentNullException>(() => { CacheKey k = new string[] { null!, "x" }; });
        Assert.Equal("parts", ex2.ParamName);
        Assert.Contains("index 0", ex2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Keys_Shapes()
    {
        CacheKey plain = "a:b";
        Assert.False(plain.IsMultiPart);
        Assert.Equal(["a:b"], plain.Parts);

        CacheKey multi = new[] { "a", "b" };
        Assert.True(multi.IsMultiPart);
        Assert.Equal(["a", "b"], multi.Parts);

        Assert.True(CacheKey.FromParts("x").IsMultiPart);
        Assert.True(CacheKey.FromParts().IsMultiPart);
        Assert.Empty(CacheKey.FromParts().Parts);
    }

    [Fact]
    public void Keys_FromParts_CopiesTheArray()
    {
        string[] parts = ["a", "b"];
        CacheKey k = CacheKey.FromParts(parts);
        parts[0] = "changed";
        Assert.Equal(["a", "b"], k.Parts);
        Assert.Equal("a:b", CacheKeys.Normalize(k, null));
    }

    [Fact]
    public void Keys_Equality_IsStructuralAndShapeAware()
    {
        Assert.Equal(CacheKey.Of("a"), (CacheKey)"a");
        Assert.True(CacheKey.FromParts("a", "b") == new[] { "a", "b" });
        Assert.Equal(CacheKey.FromParts("a", "b").GetHashCode(), CacheKey.FromParts("a", "b").GetHashCode());
        Assert.NotEqual(CacheKey.Of("a"), CacheKey.FromParts("a"));
        Assert.True(CacheKey.FromParts("a", "b") != CacheKey.FromParts("b", "a"));
        Assert.NotEqual(CacheKey.Of(""), CacheKey.FromParts());
        Assert.Equal(default(CacheKey), default(CacheKey));
        Assert.NotEqual(default(CacheKey), CacheKey.Of(""));
    }

    [Fact]
    public void Keys_Default_DoesNotCrash()
    {
        CacheKey d = default;
        Assert.True(d.IsDefault);
        Assert.False(d.IsMultiPart);
        Assert.Empty(d.Parts);
        Assert.Equal("(default CacheKey)", d.ToString());
        Assert.Equal(0, d.GetHashCode());
        Assert.False(CacheKey.Of("x").IsDefault);
        Assert.False(CacheKey.FromParts().IsDefault);
    }

    [Fact]
    public void Keys_ToString_DistinguishesShapes()
    {
        Assert.Equal("a:b", CacheKey.Of("a:b").ToString());
        Assert.Equal("[\"a\", \"b\"]", CacheKey.FromParts("a", "b").ToString());
        Assert.Equal("[\"q\\\"\\\\\"]", CacheKey.FromParts("q\"\\").ToString());
        Assert.Equal("[]", CacheKey.FromParts().ToString());
    }
}
