//! Streaming sample-rate conversion: see [`Resampler`].

use std::sync::OnceLock;

use super::SampleRate;

/// Stopband attenuation the filters are designed for, in dB.
const DESIGN_ATTENUATION_DB: f64 = 72.0;
/// Passband edge, as a fraction of the lower Nyquist frequency.
const PASSBAND: f64 = 0.9;
/// Input samples taken per step: bounds the working buffer whatever the caller passes.
const BLOCK: usize = 4096;
/// Lanes of the dot product (taps are padded to a multiple).
const LANES: usize = 8;

/// A designed polyphase filter for one rate pair.
#[derive(Debug)]
struct Filter {
    /// Upsampling factor.
    l: u64,
    /// Downsampling factor.
    m: u64,
    /// `m / l` and `m % l`: the per-output step, split so the loop needs no division.
    step_whole: u64,
    step_frac: u64,
    /// Taps per phase (a multiple of [`LANES`]).
    taps: usize,
    /// `l` phases of `taps` coefficients, each stored reversed (oldest sample first).
    coefs: Vec<f32>,
    /// The prototype filter's delay, in prototype (input * L) samples.
    delay: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Zeroth-order modified Bessel function of the first kind (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    let mut k = 1.0;
    while term > sum * 1e-17 {
        term *= q / (k * k);
        sum += term;
        k += 1.0;
    }
    sum
}

impl Filter {
    fn design(from: SampleRate, to: SampleRate) -> Filter {
        let (fi, fo) = (u64::from(from.hz()), u64::from(to.hz()));
        let g = gcd(fi, fo);
        let (l, m) = (fo / g, fi / g);
        let fs = (fi * l) as f64; // prototype rate
        let nyq = fi.min(fo) as f64 / 2.0;
        let (pass, stop) = (PASSBAND * nyq, nyq);
        let fc = (pass + stop) / 2.0 / fs; // cutoff, cycles per prototype sample
        let df = (stop - pass) / fs;
        let a = DESIGN_ATTENUATION_DB;
        let beta = 0.1102 * (a - 8.7);
        // Kaiser's length estimate, made odd so the delay is a whole prototype sample.
        let mut n = ((a - 7.95) / (14.36 * df)).ceil() as usize + 1;
        if n.is_multiple_of(2) {
            n += 1;
        }
        let l_us = l as usize;
        let taps = n.div_ceil(l_us).div_ceil(LANES) * LANES;
        let center = (n - 1) as f64 / 2.0;
        let i0_beta = bessel_i0(beta);
        let proto = |i: usize| -> f64 {
            if i >= n {
                return 0.0;
            }
            let t = i as f64 - center;
            let x = 2.0 * fc * t;
            let sinc = if t == 0.0 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            let r = t / center;
            let w = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
            l as f64 * 2.0 * fc * sinc * w
        };
        // Phase p, tap j multiplies x[n - j] with h[p + j*L]; store j reversed.
        let mut coefs = vec![0f32; l_us * taps];
        for p in 0..l_us {
            for j in 0..taps {
                coefs[p * taps + (taps - 1 - j)] = proto(p + j * l_us) as f32;
            }
        }
        Filter {
            l,
            m,
            step_whole: m / l,
            step_frac: m % l,
            taps,
            coefs,
            delay: ((n - 1) / 2) as u64,
        }
    }

    fn phase(&self, p: u64) -> &[f32] {
        let p = p as usize;
        &self.coefs[p * self.taps..(p + 1) * self.taps]
    }
}

/// The shared filter of a rate pair, designed on first use.
fn filter(from: SampleRate, to: SampleRate) -> &'static Filter {
    const N: usize = SampleRate::ALL.len();
    static FILTERS: [OnceLock<Filter>; N * N] = [const { OnceLock::new() }; N * N];
    FILTERS[from.index() * N + to.index()].get_or_init(|| Filter::design(from, to))
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// Rounds half away from zero and saturates (`as` saturates; NaN cannot occur: inputs and
/// coefficients are finite). Measured faster than a branch on the sign, which audio
/// mispredicts.
#[inline]
fn to_i16(v: f32) -> i16 {
    v.round() as i16
}

/// A streaming resampler for one mono PCM16 stream, between 8, 16, 24, 44.1 and 48 kHz.
///
/// A polyphase FIR resampler with a rational ratio `L/M` (reduced from the two rates) and a
/// Kaiser-windowed sinc filter designed per rate pair:
///
/// - passband flat (ripple well under 0.1 dB) up to 0.9 of the lower rate's Nyquist
///   frequency; stopband (>= 60 dB down, designed for 72) from that Nyquist frequency up,
///   so nothing aliases and no image survives;
/// - linear phase, with the filter's delay compensated: output sample `k` sits at input
///   time `k * M / L` exactly, so a stream resampled and then [flushed](Resampler::flush)
///   has exactly `ceil(n_in * L / M)` samples, with integer accounting (no drift, ever);
/// - state carried across chunks: feeding audio in any split gives the same output, bit for
///   bit, as feeding it at once.
///
/// Filters are designed once per rate pair, on first use, and shared by every stream (a
/// stream's own state is a history of at most a few hundred samples).
///
/// The price of linear phase is look-ahead: while streaming, output lags input by
/// [`latency`](Self::latency) input samples (5.6 ms for pairs with 8 kHz, 1 to 3 ms for
/// the others), which [`flush`](Self::flush)
/// releases at the end of an utterance.
///
/// ```
/// use teler_core::audio::{Resampler, SampleRate};
/// let mut rs = Resampler::new(SampleRate::Hz24000, SampleRate::Hz8000);
/// let mut out = Vec::new();
/// rs.process(&[0i16; 2400], &mut out); // 100 ms in
/// rs.flush(&mut out); // end of utterance: the filter's tail comes out
/// assert_eq!(out.len(), 800); // 100 ms out, exactly
/// ```
#[derive(Debug, Clone)]
pub struct Resampler {
    from: SampleRate,
    to: SampleRate,
    /// `None` when the rates are equal (a copy).
    filter: Option<&'static Filter>,
    /// Input history: `hist[i]` is padded input index `base + i`, where padded index
    /// `q` is input sample `q - (taps - 1)` (the first `taps - 1` are silence).
    hist: Vec<f32>,
    base: u64,
    /// Next output's newest padded input index is `pos + taps - 1`, phase `phase`.
    pos: u64,
    phase: u64,
    in_count: u64,
    out_count: u64,
}

impl Resampler {
    /// A resampler from `from` to `to` (equal rates give a plain copy).
    pub fn new(from: SampleRate, to: SampleRate) -> Resampler {
        let filter = (from != to).then(|| filter(from, to));
        let mut r = Resampler {
            from,
            to,
            filter,
            hist: Vec::new(),
            base: 0,
            pos: 0,
            phase: 0,
            in_count: 0,
            out_count: 0,
        };
        r.reset();
        r
    }

    /// The input rate.
    pub fn from_rate(&self) -> SampleRate {
        self.from
    }

    /// The output rate.
    pub fn to_rate(&self) -> SampleRate {
        self.to
    }

    /// Forgets all audio (barge-in): the next sample starts a fresh stream.
    pub fn reset(&mut self) {
        self.hist.clear();
        self.base = 0;
        self.in_count = 0;
        self.out_count = 0;
        if let Some(f) = self.filter {
            self.hist.resize(f.taps - 1, 0.0);
            // Output 0 is centred on input 0: prototype time `delay`.
            self.pos = f.delay / f.l;
            self.phase = f.delay % f.l;
        }
    }

    /// Input samples taken since the last reset or flush.
    pub fn input_count(&self) -> u64 {
        self.in_count
    }

    /// Output samples produced since the last reset or flush.
    pub fn output_count(&self) -> u64 {
        self.out_count
    }

    /// The filter's look-ahead, in input samples: output lags input by about this much
    /// until [`flush`](Self::flush).
    pub fn latency(&self) -> u64 {
        self.filter.map_or(0, |f| f.delay.div_ceil(f.l))
    }

    /// An upper bound on the samples [`process`](Self::process) appends for `n` input
    /// samples (for reserving).
    pub fn max_output_len(&self, n: usize) -> usize {
        match self.filter {
            None => n,
            Some(f) => ((n as u64 * f.l).div_ceil(f.m) + 1) as usize,
        }
    }

    /// Resamples `input`, appending every output sample it completes to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        let Some(f) = self.filter else {
            out.extend_from_slice(input);
            self.in_count += input.len() as u64;
            self.out_count += input.len() as u64;
            return;
        };
        for block in input.chunks(BLOCK) {
            self.hist.extend(block.iter().map(|&s| f32::from(s)));
            self.in_count += block.len() as u64;
            self.run(f, out, u64::MAX);
        }
    }

    /// Ends the stream: appends the remaining outputs (the filter's tail, computed with
    /// silence after the last input) so that exactly `ceil(n_in * to / from)` samples came
    /// out in total, then resets for the next stream.
    pub fn flush(&mut self, out: &mut Vec<i16>) {
        if let Some(f) = self.filter {
            // Outputs k with k*M < n_in*L exist; the last one needs `taps` samples of
            // look-ahead at most.
            let total = (self.in_count * f.l).div_ceil(f.m);
            if self.out_count < total {
                let zeros = f.taps + (f.delay / f.l) as usize + 1;
                self.hist.resize(self.hist.len() + zeros, 0.0);
                self.run(f, out, total);
            }
        }
        self.reset();
    }

    /// Produces outputs while their input is available, up to `limit` outputs in total.
    fn run(&mut self, f: &Filter, out: &mut Vec<i16>, limit: u64) {
        let taps = f.taps as u64;
        out.reserve(self.max_output_len(self.hist.len()));
        while self.out_count < limit && self.pos + taps <= self.base + self.hist.len() as u64 {
            let start = (self.pos - self.base) as usize;
            let y = dot(f.phase(self.phase), &self.hist[start..start + f.taps]);
            out.push(to_i16(y));
            self.out_count += 1;
            self.pos += f.step_whole;
            self.phase += f.step_frac;
            if self.phase >= f.l {
                self.phase -= f.l;
                self.pos += 1;
            }
        }
        // Drop history no later output reads.
        let drop = (self.pos - self.base).min(self.hist.len() as u64);
        self.hist.drain(..drop as usize);
        self.base += drop;
    }
}
