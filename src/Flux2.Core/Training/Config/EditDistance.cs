namespace Flux2.Training.Config;

/// <summary>Levenshtein distance, used to suggest the key a user probably meant (<c>lerning_rate</c> → <c>lr</c> is
/// too far; <c>sample_evry</c> → <c>sample_every</c> is one edit).</summary>
public static class EditDistance
{
    public static int Between(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }

    /// <summary>The candidate closest to <paramref name="word"/> (ties: the first in order).</summary>
    public static string? Nearest(string word, IEnumerable<string> candidates)
        => candidates.OrderBy(c => Between(word, c)).ThenBy(c => c, StringComparer.Ordinal).FirstOrDefault();
}
