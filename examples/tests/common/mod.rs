//! What the caller heard, measured: shared by the end-to-end agent tests.
#![allow(dead_code)] // each test binary uses its part

/// Goertzel power of `f` Hz in `pcm` at 8 kHz.
pub fn power(pcm: &[i16], f: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * f / 8000.0;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in pcm {
        let s0 = f64::from(x) + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - c * s1 * s2
}

/// The dominant frequency of `pcm` (8 kHz) between 100 and 3900 Hz: a 5 Hz scan, then
/// 0.1 Hz steps around the peak.
pub fn dominant_hz(pcm: &[i16]) -> f64 {
    let best = |fs: &mut dyn Iterator<Item = f64>| {
        fs.max_by(|a, b| power(pcm, *a).total_cmp(&power(pcm, *b)))
            .unwrap()
    };
    let coarse = best(&mut (20..780).map(|i| f64::from(i) * 5.0));
    best(&mut (-50..=50).map(|i| coarse + f64::from(i) * 0.1))
}

/// The longest stretch of `block` with no gap in it: a gap is 1 ms or more of exact zeros,
/// what the emulator writes while nothing is queued (a late chunk, the end of a clear).
pub fn longest_sound(block: &[i16]) -> &[i16] {
    const GAP: usize = 8; // 1 ms at 8 kHz
    let mut best = &block[..0];
    let (mut start, mut zeros) = (0, 0); // the stretch's start; zeros in a row before `i`
    for (i, &s) in block.iter().enumerate() {
        if s == 0 {
            zeros += 1;
            continue;
        }
        if zeros >= GAP {
            if i - zeros - start > best.len() {
                best = &block[start..i - zeros];
            }
            start = i;
        }
        zeros = 0;
    }
    let end = if zeros >= GAP {
        block.len() - zeros
    } else {
        block.len()
    };
    if end.saturating_sub(start) > best.len() {
        best = &block[start..end];
    }
    best
}

pub fn rms(pcm: &[i16]) -> f64 {
    let sum: f64 = pcm.iter().map(|&s| f64::from(s).powi(2)).sum();
    (sum / pcm.len().max(1) as f64).sqrt()
}

/// Asserts what the caller heard (8 kHz samples), in 100 ms blocks: the greeting at
/// `greeting_hz` first (starting within 500 ms), then the echo of the caller at `echo_hz`,
/// each to 1 Hz (median of blocks) and 3 Hz (over the whole stretch), and nothing else.
/// Returns a summary line.
///
/// A block's pitch is that of its longest stretch without a gap (where a late chunk left a
/// moment of silence and a phase jump); a block with less than 50 ms of such sound (the edge
/// of the greeting or of the echo) is too short to measure and left out.
pub fn assert_heard(samples: &[i16], greeting_hz: f64, echo_hz: f64) -> String {
    let blocks: Vec<(usize, f64)> = samples
        .chunks_exact(800)
        .enumerate()
        .filter(|(_, b)| rms(b) > 500.0)
        .map(|(i, b)| (i, longest_sound(b)))
        .filter(|(_, sound)| sound.len() >= 400)
        .map(|(i, sound)| (i, dominant_hz(sound)))
        .collect();
    // 15 Hz tells the tones apart (a wrong rate anywhere would move them by a third or more).
    let near = |f: f64, want: f64| (f - want).abs() <= 15.0;
    let pick = |want: f64| -> Vec<usize> {
        blocks
            .iter()
            .filter(|(_, f)| near(*f, want))
            .map(|b| b.0)
            .collect()
    };
    let (greeting, echo) = (pick(greeting_hz), pick(echo_hz));
    assert_eq!(
        greeting.len() + echo.len(),
        blocks.len(),
        "every loud block is the greeting or the echo: {blocks:?}"
    );
    assert!(
        greeting.len() >= 5,
        "at least 500 ms of greeting: {blocks:?}"
    );
    assert!(echo.len() >= 20, "at least 2 s of echo: {blocks:?}");
    assert!(
        greeting.iter().max() < echo.iter().min(),
        "greeting first, then the echo: {blocks:?}"
    );
    assert!(greeting[0] <= 5, "the greeting starts at once: {blocks:?}");
    let median = |ix: &[usize]| {
        let mut f: Vec<f64> = blocks
            .iter()
            .filter(|(i, _)| ix.contains(i))
            .map(|b| b.1)
            .collect();
        f.sort_by(f64::total_cmp);
        f[f.len() / 2]
    };
    let span = |ix: &[usize]| {
        let (a, b) = (ix[0] * 800, (ix[ix.len() - 1] + 1) * 800);
        dominant_hz(&samples[a..b])
    };
    let (g, e) = (median(&greeting), median(&echo));
    let (gs, es) = (span(&greeting), span(&echo));
    assert!((g - greeting_hz).abs() <= 1.0, "{g} {blocks:?}");
    assert!((e - echo_hz).abs() <= 1.0, "{e} {blocks:?}");
    assert!((gs - greeting_hz).abs() <= 3.0, "{gs}");
    assert!((es - echo_hz).abs() <= 3.0, "{es}");
    format!(
        "greeting {g:.1} Hz (whole stretch {gs:.1} Hz) in {} blocks of 100 ms, echo {e:.1} Hz \
         (whole stretch {es:.1} Hz) in {} blocks",
        greeting.len(),
        echo.len()
    )
}
