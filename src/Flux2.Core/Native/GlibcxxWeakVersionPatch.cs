using System.Buffers.Binary;
using System.Text;

namespace Flux2.Native;

/// <summary>
/// TorchSharp 0.107's libLibTorchSharp.so asks for GLIBCXX_3.4.32 (GCC 13's libstdc++) for exactly one symbol,
/// <c>std::ios_base_library_init()</c>, a link-time marker that is never called. Debian 12 / Ubuntu 22.04 ship
/// GCC 12's libstdc++ (up to 3.4.30), so the library fails to load. The fix (patchelf alone does not remove it):
/// in the copy that is loaded, mark that one version requirement weak (VER_FLG_WEAK in its Vernaux entry) and make
/// the symbols that carry it unversioned. The edit is a few bytes inside the existing ELF tables; nothing moves.
/// </summary>
public static class GlibcxxWeakVersionPatch
{
    public const string MissingVersion = "GLIBCXX_3.4.32";
    const uint ShtGnuVerneed = 0x6ffffffe, ShtGnuVersym = 0x6fffffff, ShtDynsym = 11;
    const ushort VerFlgWeak = 0x2;

    /// <summary>True when the ELF file at <paramref name="path"/> has a non-weak requirement on
    /// <paramref name="version"/>.</summary>
    public static bool NeedsPatch(string path, string version = MissingVersion)
    {
        var elf = File.ReadAllBytes(path);
        return FindRequirement(elf, version) is { } r
            && (BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(r.VernauxOffset + 4)) & VerFlgWeak) == 0;
    }

    /// <summary>Patches the file in place (temp file + rename). Returns true when it changed something.</summary>
    public static bool Apply(string path, string version = MissingVersion)
    {
        var elf = File.ReadAllBytes(path);
        if (FindRequirement(elf, version) is not { } req) return false;
        var flagsAt = req.VernauxOffset + 4;
        var flags = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(flagsAt));
        bool changed = (flags & VerFlgWeak) == 0;
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(flagsAt), (ushort)(flags | VerFlgWeak));
        // Symbols bound to that version index become plain global references (index 1).
        for (int i = 0; i < req.VersymCount; i++)
        {
            var at = req.VersymOffset + 2 * i;
            if ((BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(at)) & 0x7fff) == req.VersionIndex)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(at), 1);
                changed = true;
            }
        }
        if (!changed) return false;
        var tmp = path + ".patch-tmp";
        File.WriteAllBytes(tmp, elf);
        File.SetUnixFileMode(tmp, File.GetUnixFileMode(path));
        File.Move(tmp, path, overwrite: true);
        return true;
    }

    /// <summary>Whether a libstdc++ on this machine defines <paramref name="version"/> (so no patch is
    /// needed).</summary>
    public static bool SystemLibStdCxxHas(string version = MissingVersion)
    {
        foreach (var dir in new[] { "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/lib/x86_64-linux-gnu", "/usr/lib" })
        {
            var f = Path.Combine(dir, "libstdc++.so.6");
            if (!File.Exists(f)) continue;
            var bytes = File.ReadAllBytes(f);
            return bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(version + "\0")) >= 0;
        }
        return false;
    }

    record Requirement(int VernauxOffset, int VersionIndex, int VersymOffset, int VersymCount);

    static Requirement? FindRequirement(byte[] elf, string version)
    {
        ReadOnlySpan<byte> s = elf;
        if (s.Length < 64 || s[0] != 0x7f || s[1] != 'E' || s[2] != 'L' || s[3] != 'F')
            throw new InvalidDataException("not an ELF file");
        if (s[4] != 2 || s[5] != 1) throw new InvalidDataException("only 64-bit little-endian ELF files are supported");
        long shoff = BinaryPrimitives.ReadInt64LittleEndian(s[0x28..]);
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(s[0x3A..]);
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(s[0x3C..]);
        (uint type, long off, long size, uint link) Section(int i)
        {
            var h = elf.AsSpan().Slice((int)(shoff + (long)i * shentsize), shentsize);
            return (BinaryPrimitives.ReadUInt32LittleEndian(h[4..]), BinaryPrimitives.ReadInt64LittleEndian(h[0x18..]),
                    BinaryPrimitives.ReadInt64LittleEndian(h[0x20..]),
                    BinaryPrimitives.ReadUInt32LittleEndian(h[0x28..]));
        }
        int verneed = -1, versym = -1;
        for (int i = 0; i < shnum; i++)
        {
            var t = Section(i).type;
            if (t == ShtGnuVerneed) verneed = i;
            else if (t == ShtGnuVersym) versym = i;
        }
        if (verneed < 0 || versym < 0) return null;
        var vn = Section(verneed);
        var strtab = Section((int)vn.link).off;
        string Str(uint at)
        {
            int start = (int)(strtab + at), end = start;
            while (elf[end] != 0) end++;
            return Encoding.ASCII.GetString(elf, start, end - start);
        }
        long entry = vn.off;
        while (true)
        {
            int cnt = BinaryPrimitives.ReadUInt16LittleEndian(s[(int)(entry + 2)..]);
            long aux = entry + BinaryPrimitives.ReadUInt32LittleEndian(s[(int)(entry + 8)..]);
            for (int a = 0; a < cnt; a++)
            {
                var name = Str(BinaryPrimitives.ReadUInt32LittleEndian(s[(int)(aux + 8)..]));
                if (name == version)
                {
                    int index = BinaryPrimitives.ReadUInt16LittleEndian(s[(int)(aux + 6)..]);
                    var vs = Section(versym);
                    return new Requirement((int)aux, index, (int)vs.off, (int)(vs.size / 2));
                }
                uint nextAux = BinaryPrimitives.ReadUInt32LittleEndian(s[(int)(aux + 12)..]);
                if (nextAux == 0) break;
                aux += nextAux;
            }
            uint next = BinaryPrimitives.ReadUInt32LittleEndian(s[(int)(entry + 12)..]);
            if (next == 0) return null;
            entry += next;
        }
    }
}
