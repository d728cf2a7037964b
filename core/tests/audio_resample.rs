//! Resampler quality, measured with sine sweeps through the real resampler, and its
//! streaming guarantees (chunking invariance, exact sample counts).

use std::f64::consts::PI;

use proptest::prelude::*;
use teler_core::audio::{Resampler, SampleRate};

const AMP: f64 = 30000.0;

fn sine(f: f64, fs: f64, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| (AMP * (2.0 * PI * f * i as f64 / fs + 0.3).sin()).round() as i16)
        .collect()
}

/// Least-squares fit of a sine at `f` to `y`: (amplitude, rms of the residual).
fn fit(y: &[f64], f: f64, fs: f64) -> (f64, f64) {
    let w = 2.0 * PI * f / fs;
    let (mut ss, mut cc, mut sc, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &v) in y.iter().enumerate() {
        let (s, c) = (w * i as f64).sin_cos();
        ss += s * s;
        cc += c * c;
        sc += s * c;
        sy += s * v;
        cy += c * v;
    }
    let det = ss * cc - sc * sc;
    let a = (sy * cc - cy * sc) / det;
    let b = (cy * ss - sy * sc) / det;
    let mut r2 = 0.0;
    for (i, &v) in y.iter().enumerate() {
        let (s, c) = (w * i as f64).sin_cos();
        let e = v - a * s - b * c;
        r2 += e * e;
    }
    ((a * a + b * b).sqrt(), (r2 / y.len() as f64).sqrt())
}

fn rms(y: &[f64]) -> f64 {
    (y.iter().map(|v| v * v).sum::<f64>() / y.len() as f64).sqrt()
}

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// Runs a tone through a fresh resampler; returns the steady-state output (start-up
/// transient skipped, no flush tail).
fn run_tone(from: SampleRate, to: SampleRate, f: f64) -> Vec<f64> {
    let (fi, fo) = (from.hz() as f64, to.hz() as f64);
    let mut rs = Resampler::new(from, to);
    let skip = ((2 * rs.latency() + 4) as f64 * fo / fi).ceil() as usize;
    let n_out = skip + (0.08 * fo) as usize;
    let n_in = (n_out as f64 * fi / fo).ceil() as usize + 2 * rs.latency() as usize + 8;
    let mut out = Vec::new();
    rs.process(&sine(f, fi, n_in), &mut out);
    assert!(out.len() >= n_out, "{from}->{to}: {} < {n_out}", out.len());
    out[skip..n_out].iter().map(|&v| v as f64).collect()
}

/// Quality of one rate pair: (min gain dB, max gain dB) over the passband and the
/// smallest attenuation (dB) of everything that is not the tone itself.
struct Quality {
    gain_min: f64,
    gain_max: f64,
    atten_min: f64,
    worst_at: f64,
}

fn measure(from: SampleRate, to: SampleRate, tones: usize) -> Quality {
    let (fi, fo) = (from.hz() as f64, to.hz() as f64);
    let nyq = fi.min(fo) / 2.0;
    let amp_rms = AMP / 2f64.sqrt();
    let mut q = Quality {
        gain_min: f64::MAX,
        gain_max: f64::MIN,
        atten_min: f64::MAX,
        worst_at: 0.0,
    };
    // Passband and transition band: gain of the tone (passband only) and the level of
    // everything else (images, aliases, noise) relative to the input.
    for i in 0..tones {
        let f = 30.0 + (nyq - 30.0) * (i as f64 + 0.37) / tones as f64;
        let y = run_tone(from, to, f);
        let (amp, resid) = fit(&y, f, fo);
        if f <= 0.9 * nyq {
            let g = db(amp / AMP);
            q.gain_min = q.gain_min.min(g);
            q.gain_max = q.gain_max.max(g);
        }
        let att = db(amp_rms / resid);
        if att < q.atten_min {
            q.atten_min = att;
            q.worst_at = f;
        }
    }
    // Downsampling: tones from the output's Nyquist frequency up must not come through.
    if fi > fo {
        for i in 0..tones {
            let f = nyq + (fi / 2.0 - nyq) * i as f64 / tones as f64;
            let y = run_tone(from, to, f);
            let att = db(amp_rms / rms(&y));
            if att < q.atten_min {
                q.atten_min = att;
                q.worst_at = f;
            }
        }
    }
    q
}

fn pairs() -> Vec<(SampleRate, SampleRate)> {
    let mut v = Vec::new();
    for a in SampleRate::ALL {
        for b in SampleRate::ALL {
            if a != b {
                v.push((a, b));
            }
        }
    }
    v
}

/// Sine sweeps through every rate pair: passband ripple <= 0.1 dB up to 0.9 of the lower
/// Nyquist frequency; stopband (images and aliases) >= 60 dB down. Debug builds sweep
/// fewer tones; `cargo test --release -- --nocapture` sweeps densely and prints the table.
#[test]
fn sweep_every_pair_meets_the_spec() {
    let tones = if cfg!(debug_assertions) { 12 } else { 150 };
    let mut worst_ripple: f64 = 0.0;
    let mut worst_atten = f64::MAX;
    for (from, to) in pairs() {
        let q = measure(from, to, tones);
        let ripple = q.gain_max.abs().max(q.gain_min.abs());
        println!(
            "{:>5} -> {:>5}: passband gain {:+.4} .. {:+.4} dB, stopband >= {:.1} dB (worst at {:.0} Hz)",
            from.hz(),
            to.hz(),
            q.gain_min,
            q.gain_max,
            q.atten_min,
            q.worst_at
        );
        assert!(ripple <= 0.1, "{from}->{to}: ripple {ripple} dB");
        assert!(q.atten_min >= 60.0, "{from}->{to}: {} dB", q.atten_min);
        worst_ripple = worst_ripple.max(ripple);
        worst_atten = worst_atten.min(q.atten_min);
    }
    println!("worst: ripple {worst_ripple:.4} dB, attenuation {worst_atten:.1} dB");
}

/// The measurement can fail: a naive decimator (dropping samples, no filter) aliases a
/// 5 kHz tone at 24 kHz straight into the 8 kHz output.
#[test]
fn the_measurement_catches_aliasing() {
    let x = sine(5000.0, 24000.0, 4800);
    let naive: Vec<f64> = x.iter().step_by(3).map(|&v| v as f64).collect();
    assert!(db(AMP / 2f64.sqrt() / rms(&naive)) < 1.0);
    let y = run_tone(SampleRate::Hz24000, SampleRate::Hz8000, 5000.0);
    assert!(db(AMP / 2f64.sqrt() / rms(&y)) > 60.0);
}

#[test]
fn equal_rates_copy() {
    let mut rs = Resampler::new(SampleRate::Hz16000, SampleRate::Hz16000);
    let mut out = Vec::new();
    rs.process(&[1, 2, 3], &mut out);
    rs.flush(&mut out);
    assert_eq!(out, [1, 2, 3]);
}

#[test]
fn dc_passes_at_unity_and_full_scale_does_not_wrap() {
    for (from, to) in pairs() {
        let mut rs = Resampler::new(from, to);
        let mut out = Vec::new();
        rs.process(&vec![i16::MAX; from.hz() as usize / 10], &mut out);
        let mid = &out[out.len() / 2..];
        assert!(mid.iter().all(|&v| v >= 32700), "{from}->{to}");
        // A full-scale square wave overshoots (Gibbs): the output must clamp, never wrap.
        // Away from the edges, every output sample has the input's sign and is near full
        // scale (a wrapped overshoot would flip the sign next to an edge).
        let half = 400usize;
        let sq: Vec<i16> = (0..20 * half)
            .map(|i| {
                if (i / half).is_multiple_of(2) {
                    i16::MAX
                } else {
                    i16::MIN
                }
            })
            .collect();
        let mut rs = Resampler::new(from, to);
        let mut out = Vec::new();
        rs.process(&sq, &mut out);
        rs.flush(&mut out);
        let (fi, fo) = (from.hz() as f64, to.hz() as f64);
        let guard = 2.0 * fi / fi.min(fo) + 1.0;
        let mut checked = 0;
        for (k, &y) in out.iter().enumerate() {
            let t = k as f64 * fi / fo;
            let ph = t % (2 * half) as f64;
            let d = ph % half as f64;
            if t < half as f64 || t > (19 * half) as f64 || d.min(half as f64 - d) < guard {
                continue;
            }
            let want_pos = ph < half as f64;
            assert_eq!(y > 0, want_pos, "{from}->{to}: sample {k} = {y}");
            assert!(y.unsigned_abs() > 28000, "{from}->{to}: sample {k} = {y}");
            checked += 1;
        }
        assert!(checked > out.len() / 2, "{from}->{to}");
    }
}

fn expected_len(n: u64, from: SampleRate, to: SampleRate) -> u64 {
    (n * to.hz() as u64).div_ceil(from.hz() as u64)
}

/// An hour of audio through the rate pairs with the most awkward ratios, in 20 ms-ish
/// chunks of varying size: exactly `ceil(n * to / from)` samples out, none lost or gained.
/// (Slow in debug builds: runs in release, `cargo test --release`.)
#[test]
#[cfg_attr(debug_assertions, ignore = "an hour of audio: run with --release")]
fn an_hour_has_no_drift() {
    for (from, to) in [
        (SampleRate::Hz44100, SampleRate::Hz8000),
        (SampleRate::Hz8000, SampleRate::Hz44100),
        (SampleRate::Hz48000, SampleRate::Hz44100),
        (SampleRate::Hz24000, SampleRate::Hz8000),
    ] {
        let mut rs = Resampler::new(from, to);
        let total = 3600 * from.hz() as u64;
        let chunk = vec![0i16; 2000];
        let mut out = Vec::new();
        let (mut fed, mut produced, mut i) = (0u64, 0u64, 0u64);
        while fed < total {
            let n = ((from.hz() as u64 / 50 + i * 7 % 13) as usize).min((total - fed) as usize);
            rs.process(&chunk[..n], &mut out);
            fed += n as u64;
            produced += out.len() as u64;
            out.clear();
            i += 1;
        }
        rs.flush(&mut out);
        produced += out.len() as u64;
        assert_eq!(produced, 3600 * to.hz() as u64, "{from}->{to}");
    }
}

fn rate() -> impl Strategy<Value = SampleRate> {
    prop::sample::select(SampleRate::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any split of the input gives the same output, bit for bit, and the exact count.
    #[test]
    fn chunking_never_changes_the_output(
        from in rate(),
        to in rate(),
        input in prop::collection::vec(any::<i16>(), 0..3000),
        cuts in prop::collection::vec(0usize..3000, 0..12),
    ) {
        let mut one = Resampler::new(from, to);
        let mut a = Vec::new();
        one.process(&input, &mut a);
        one.flush(&mut a);

        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (input.len() + 1)).collect();
        cuts.sort_unstable();
        let mut many = Resampler::new(from, to);
        let mut b = Vec::new();
        let mut prev = 0;
        for c in cuts.into_iter().chain([input.len()]) {
            many.process(&input[prev..c], &mut b);
            prop_assert!(many.output_count() <= expected_len(many.input_count(), from, to));
            prev = c;
        }
        many.flush(&mut b);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(a.len() as u64, expected_len(input.len() as u64, from, to));
        // After a flush the resampler starts over: the same input gives the same output.
        let mut c = Vec::new();
        many.process(&input, &mut c);
        many.flush(&mut c);
        prop_assert_eq!(&a, &c);
    }
}

#[test]
fn look_ahead_is_a_few_milliseconds() {
    for (from, to) in pairs() {
        let ms = Resampler::new(from, to).latency() as f64 * 1000.0 / from.hz() as f64;
        assert!(ms > 0.5 && ms <= 5.7, "{from}->{to}: {ms} ms");
    }
}
