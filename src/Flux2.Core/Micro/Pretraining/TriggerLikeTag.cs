namespace Flux2.Micro.Pretraining;

/// <summary>
/// Made-up words such as <c>kovela</c> or <c>tamu_besa</c> that the transformer pretrainer puts in front of some
/// captions. A LoRA's trigger word (<c>midnight_tarot</c>, <c>zorblax</c>) comes first in its captions; the frozen
/// text encoder is causal, so an unseen leading word shifts the hidden states of every caption token after it. A
/// model that never saw such a word draws the content worse as soon as a trigger is in the prompt, and a LoRA then
/// has to relearn the content along with the style. Pretraining with tags (<c>pretrain-micro --tag-share</c>) shows
/// the model such words carrying no content, leaving the trigger's meaning open for the LoRA.
/// Every tag is one word of 2-3 consonant-vowel syllables or two words of 2: a few GPT-2 tokens, as a trigger word
/// is, and never a caption word (no caption word alternates consonant and vowel throughout).
/// </summary>
public static class TriggerLikeTag
{
    const string Consonants = "bdfgklmnprstvz";
    const string Vowels = "aeiou";

    public static string Make(Random rng)
    {
        return rng.Next(2) == 0 ? Word(rng, rng.Next(2, 4)) : Word(rng, 2) + "_" + Word(rng, 2);
    }

    static string Word(Random rng, int syllables)
    {
        var chars = new char[2 * syllables];
        for (int i = 0; i < chars.Length; i += 2)
        {
            chars[i] = Consonants[rng.Next(Consonants.Length)];
            chars[i + 1] = Vowels[rng.Next(Vowels.Length)];
        }
        return new string(chars);
    }
}
