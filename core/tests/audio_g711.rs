//! G.711 tested exhaustively against a reference built straight from the ITU-T G.711
//! tables (Table 1: A-law, Table 2: mu-law): segment start, step size, 16 intervals per
//! segment, reconstruction at the middle of the interval. The reference shares no code with
//! the implementation (which uses the bit tricks of G.191's `g711.c`).

use teler_core::audio::g711;

/// One quantisation interval in the 16-bit domain: `lower` is the decision value (inputs
/// with magnitude >= lower and below the next interval's lower fall here), `output` the
/// reconstruction value.
#[derive(Clone, Copy, Debug)]
struct Interval {
    lower: i32,
    output: i32,
}

/// A-law, ITU-T G.711 Table 1, in units where full scale is 4096; scaled by 8 to 16 bits.
/// Segments (start, step): (0,2) (32,2) (64,4) (128,8) (256,16) (512,32) (1024,64) (2048,128).
fn alaw_intervals() -> Vec<Interval> {
    let segs = [
        (0, 2),
        (32, 2),
        (64, 4),
        (128, 8),
        (256, 16),
        (512, 32),
        (1024, 64),
        (2048, 128),
    ];
    let mut v = Vec::new();
    for (start, step) in segs {
        for i in 0..16 {
            let lower = start + i * step;
            v.push(Interval {
                lower: lower * 8,
                output: (lower + step / 2) * 8,
            });
        }
    }
    v
}

/// Mu-law, ITU-T G.711 Table 2, in units where full scale is 8159; scaled by 4 to 16 bits.
/// Segment ends 31, 95, 223, 479, 991, 2015, 4063, 8159 with steps 2 ... 256; the first
/// interval of the first segment is [0, 1) with output 0 (written here as start -1).
fn ulaw_intervals() -> Vec<Interval> {
    let segs = [
        (-1, 2),
        (31, 4),
        (95, 8),
        (223, 16),
        (479, 32),
        (991, 64),
        (2015, 128),
        (4063, 256),
    ];
    let mut v = Vec::new();
    for (start, step) in segs {
        for i in 0..16 {
            let lower = start + i * step;
            v.push(Interval {
                lower: lower.max(0) * 4,
                output: (lower + step / 2) * 4,
            });
        }
    }
    v
}

/// The interval index for a magnitude: the last interval whose decision value it reaches
/// (above the top decision value, the top interval: G.711 clips).
fn quantise(intervals: &[Interval], magnitude: i32) -> usize {
    let mut idx = 0;
    for (i, iv) in intervals.iter().enumerate() {
        if magnitude >= iv.lower {
            idx = i;
        }
    }
    idx
}

/// G.191's convention for 16-bit input: a negative sample's magnitude is `-x - 1`.
fn magnitude(x: i16) -> i32 {
    if x < 0 { -(x as i32) - 1 } else { x as i32 }
}

fn ref_alaw_encode(x: i16) -> u8 {
    let idx = quantise(&alaw_intervals(), magnitude(x)) as u8;
    // Sign bit 1 for positive; even bits inverted (G.711 clause 2, Table 1 note).
    let sign = if x >= 0 { 0x80 } else { 0x00 };
    (sign | idx) ^ 0x55
}

fn ref_alaw_decode(code: u8) -> i16 {
    let raw = code ^ 0x55;
    let out = alaw_intervals()[(raw & 0x7F) as usize].output;
    (if raw & 0x80 != 0 { out } else { -out }) as i16
}

fn ref_ulaw_encode(x: i16) -> u8 {
    let idx = quantise(&ulaw_intervals(), magnitude(x)) as u8;
    // All bits inverted; sign bit (before inversion) 0 for positive.
    let sign = if x >= 0 { 0x00 } else { 0x80 };
    !(sign | idx)
}

fn ref_ulaw_decode(code: u8) -> i16 {
    let raw = !code;
    let out = ulaw_intervals()[(raw & 0x7F) as usize].output;
    (if raw & 0x80 == 0 { out } else { -out }) as i16
}

#[test]
fn reference_matches_published_values() {
    // Anchors from the G.711 tables, so the reference itself is checked.
    assert_eq!(ref_alaw_decode(0xD5), 8);
    assert_eq!(ref_alaw_decode(0x55), -8);
    assert_eq!(ref_alaw_decode(0xAA), 32256);
    assert_eq!(ref_alaw_decode(0x2A), -32256);
    assert_eq!(ref_ulaw_decode(0xFF), 0);
    assert_eq!(ref_ulaw_decode(0x7F), 0);
    assert_eq!(ref_ulaw_decode(0x80), 32124);
    assert_eq!(ref_ulaw_decode(0x00), -32124);
    assert_eq!(ref_ulaw_decode(0xFE), 8);
    assert_eq!(ref_ulaw_decode(0xEF), 33 * 4); // second segment starts at output 33
    assert_eq!(ref_alaw_encode(0), 0xD5);
    assert_eq!(ref_alaw_encode(-1), 0x55);
    assert_eq!(ref_ulaw_encode(0), 0xFF);
    assert_eq!(ref_ulaw_encode(i16::MAX), 0x80);
    assert_eq!(ref_ulaw_encode(i16::MIN), 0x00);
    assert_eq!(ref_alaw_encode(i16::MIN), 0x2A);
}

#[test]
fn ulaw_encode_all_65536_inputs() {
    let ivs = ulaw_intervals();
    for x in i16::MIN..=i16::MAX {
        let idx = quantise(&ivs, magnitude(x)) as u8;
        let want = !(if x >= 0 { 0 } else { 0x80 } | idx);
        assert_eq!(g711::ulaw_encode(x), want, "x={x}");
    }
}

#[test]
fn alaw_encode_all_65536_inputs() {
    let ivs = alaw_intervals();
    for x in i16::MIN..=i16::MAX {
        let idx = quantise(&ivs, magnitude(x)) as u8;
        let want = (if x >= 0 { 0x80 } else { 0 } | idx) ^ 0x55;
        assert_eq!(g711::alaw_encode(x), want, "x={x}");
    }
}

#[test]
fn decode_all_256_codes() {
    for c in 0..=255u8 {
        assert_eq!(g711::ulaw_decode(c), ref_ulaw_decode(c), "ulaw {c:#04x}");
        assert_eq!(g711::alaw_decode(c), ref_alaw_decode(c), "alaw {c:#04x}");
    }
}

#[test]
fn reconstruction_values_reencode_to_their_code() {
    for c in 0..=255u8 {
        let y = g711::alaw_decode(c);
        assert_eq!(g711::alaw_encode(y), c, "alaw {c:#04x}");
        let y = g711::ulaw_decode(c);
        // mu-law has two zeros (0x7F and 0xFF); 0 encodes as +0.
        let want = if c == 0x7F { 0xFF } else { c };
        assert_eq!(g711::ulaw_encode(y), want, "ulaw {c:#04x}");
    }
}

#[test]
fn slice_helpers_match_scalar() {
    let xs: Vec<i16> = (i16::MIN..=i16::MAX).step_by(97).collect();
    let (mut u, mut a) = (Vec::new(), Vec::new());
    g711::ulaw_encode_into(&xs, &mut u);
    g711::alaw_encode_into(&xs, &mut a);
    let (mut du, mut da) = (Vec::new(), Vec::new());
    g711::ulaw_decode_into(&u, &mut du);
    g711::alaw_decode_into(&a, &mut da);
    for (i, &x) in xs.iter().enumerate() {
        assert_eq!(u[i], ref_ulaw_encode(x));
        assert_eq!(a[i], ref_alaw_encode(x));
        assert_eq!(du[i], ref_ulaw_decode(u[i]));
        assert_eq!(da[i], ref_alaw_decode(a[i]));
    }
}
