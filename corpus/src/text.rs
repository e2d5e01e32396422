//! Human text for message bodies and statuses: mostly English with German,
//! French, Russian, CJK words and emoji mixed in, as in a multilingual
//! roster.

use crate::rng::Rng;
use crate::tokens;
use crate::vocab::{CODE, EMOJI, URLS, WORDS_CJK, WORDS_DE, WORDS_EN, WORDS_FR, WORDS_RU};

/// How long a chat body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodySize {
    /// One sentence of 1 to 12 words.
    Short,
    /// Two to five sentences.
    Medium,
    /// 1 to 4 KB of paragraphs separated by blank lines, some of them code.
    Long,
}

/// A message body of the given size, sometimes with a code fragment or URL
/// appended.
pub(crate) fn body(rng: &mut Rng, size: BodySize) -> String {
    let mut s = match size {
        BodySize::Short => {
            let n = rng.range(1, 12) as usize;
            sentence(rng, n)
        }
        BodySize::Medium => paragraph(rng, 2, 5),
        BodySize::Long => long_text(rng),
    };
    match rng.below(100) {
        0..=5 => {
            s.push(' ');
            s.push_str(rng.pick(CODE));
        }
        6..=11 => {
            s.push(' ');
            s.push_str(&url(rng));
        }
        _ => {}
    }
    s
}

/// One sentence of `n` words, capitalised, with varied end punctuation.
pub(crate) fn sentence(rng: &mut Rng, n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        let w = word(rng);
        if i == 0 {
            let mut chars = w.chars();
            if let Some(first) = chars.next() {
                s.extend(first.to_uppercase());
                s.push_str(chars.as_str());
            }
        } else {
            s.push_str(w);
        }
    }
    s.push_str(rng.pick(&[".", ".", "!", "?", "", " :)", "…"]));
    s
}

/// A URL from the templates, with its placeholders filled.
pub(crate) fn url(rng: &mut Rng) -> String {
    let template = rng.pick(URLS);
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(pos) = rest.find('{') {
        out.push_str(&rest[..pos]);
        let (token, after) = rest[pos..].split_at(3);
        if token == "{n}" {
            out.push_str(&rng.range(100, 9999).to_string());
        } else {
            out.push_str(&tokens::alnum(rng, 16));
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

fn word(rng: &mut Rng) -> &'static str {
    let list = match rng.below(100) {
        0..=77 => WORDS_EN,
        78..=83 => WORDS_DE,
        84..=87 => WORDS_FR,
        88..=92 => WORDS_RU,
        93..=95 => WORDS_CJK,
        _ => EMOJI,
    };
    rng.pick(list)
}

fn paragraph(rng: &mut Rng, min_sentences: u64, max_sentences: u64) -> String {
    let n = rng.range(min_sentences, max_sentences);
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        let words = rng.range(6, 18) as usize;
        s.push_str(&sentence(rng, words));
    }
    s
}

fn long_text(rng: &mut Rng) -> String {
    let target = rng.range(1000, 4000) as usize;
    let mut s = String::with_capacity(target + 200);
    while s.len() < target {
        if !s.is_empty() {
            s.push_str("\n\n");
        }
        if rng.chance(150) {
            s.push_str(rng.pick(CODE));
        } else {
            s.push_str(&paragraph(rng, 1, 4));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_bodies_are_one_to_four_kb_of_paragraphs() {
        let mut r = Rng::new(5);
        for _ in 0..20 {
            let b = body(&mut r, BodySize::Long);
            assert!(b.len() >= 1000 && b.len() < 5000, "{}", b.len());
            assert!(b.contains("\n\n"));
        }
    }

    #[test]
    fn urls_have_no_placeholders_left() {
        let mut r = Rng::new(5);
        for _ in 0..50 {
            let u = url(&mut r);
            assert!(u.starts_with("https://") && !u.contains('{'), "{u}");
        }
    }
}
