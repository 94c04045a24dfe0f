using System.Text;

namespace Flux2.Distributed;

/// <summary>
/// The wire format of the rendezvous store (<see cref="TcpStoreServer"/>, <see cref="TcpStoreClient"/>), a minimal
/// cousin of torch.distributed's TCPStore: each request is [op:1][key length:4][key UTF-8][value length:4][value],
/// each reply [status:1][value length:4][value]. Little-endian lengths; values are opaque bytes.
/// </summary>
static class StoreProtocol
{
    public enum Op : byte { Hello = 1, Set = 2, TryGet = 3, Delete = 4, Ping = 5, Bye = 6 }
    public enum Status : byte { Ok = 0, Missing = 1, Error = 2 }

    public const int MaxValueBytes = 1 << 30;

    public static void WriteRequest(Stream s, Op op, string key, ReadOnlySpan<byte> value)
    {
        var k = Encoding.UTF8.GetBytes(key);
        var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true);
        w.Write((byte)op); w.Write(k.Length); w.Write(k); w.Write(value.Length); w.Write(value);
        w.Flush();
    }

    public static (Op op, string key, byte[] value) ReadRequest(Stream s)
    {
        var r = new BinaryReader(s, Encoding.UTF8, leaveOpen: true);
        var op = (Op)r.ReadByte();
        var key = Encoding.UTF8.GetString(ReadExactly(r, r.ReadInt32()));
        return (op, key, ReadExactly(r, r.ReadInt32()));
    }

    public static void WriteReply(Stream s, Status status, ReadOnlySpan<byte> value)
    {
        var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true);
        w.Write((byte)status); w.Write(value.Length); w.Write(value);
        w.Flush();
    }

    public static (Status status, byte[] value) ReadReply(Stream s)
    {
        var r = new BinaryReader(s, Encoding.UTF8, leaveOpen: true);
        var status = (Status)r.ReadByte();
        return (status, ReadExactly(r, r.ReadInt32()));
    }

    static byte[] ReadExactly(BinaryReader r, int length)
    {
        if (length is < 0 or > MaxValueBytes)
            throw new InvalidDataException($"store message of {length} bytes: not a flux2 store peer?");
        var bytes = r.ReadBytes(length);
        if (bytes.Length != length) throw new EndOfStreamException("store connection closed mid-message");
        return bytes;
    }
}
