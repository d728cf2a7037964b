//! G.711 mu-law and A-law, bit-exact with the ITU-T reference software (G.191 `g711.c`).
//!
//! 16-bit input is quantised by the G.711 decision tables after dropping the bits below the
//! law's resolution (14 bits for mu-law, 13 for A-law); negative samples use the
//! one's-complement magnitude `-x - 1`, as G.191 does. Decoding returns the table's
//! reconstruction value scaled to 16 bits (mu-law peak 32124, A-law peak 32256).
//!
//! ```
//! use teler_core::audio::g711;
//! assert_eq!(g711::ulaw_encode(0), 0xFF);
//! assert_eq!(g711::ulaw_decode(0x80), 32124);
//! assert_eq!(g711::alaw_encode(0), 0xD5);
//! assert_eq!(g711::alaw_decode(0xD5), 8);
//! ```

/// Encodes one sample to mu-law.
pub const fn ulaw_encode(x: i16) -> u8 {
    // One's-complement magnitude, 14-bit, biased by 33 and clipped (G.191 ulaw_compress).
    let (sign, mag) = if x < 0 {
        (0x80u8, !x as i32)
    } else {
        (0x00u8, x as i32)
    };
    let mut biased = (mag >> 2) + 33;
    if biased > 0x1FFF {
        biased = 0x1FFF;
    }
    // biased is in [33, 8191]: its top bit is bit 5..=12, the segment is that minus 5.
    let seg = 31 - (biased as u32).leading_zeros() - 5;
    let mant = ((biased as u32) >> (seg + 1)) & 0x0F;
    !(sign | ((seg << 4) as u8) | mant as u8)
}

/// Decodes one mu-law code.
pub const fn ulaw_decode(code: u8) -> i16 {
    ULAW_TABLE[code as usize]
}

/// Encodes one sample to A-law.
pub const fn alaw_encode(x: i16) -> u8 {
    // One's-complement magnitude, 12-bit (G.191 alaw_compress).
    let (sign, mag) = if x < 0 {
        (0x00u8, (!x as i32) >> 4)
    } else {
        (0x80u8, (x as i32) >> 4)
    };
    let ix = if mag > 15 {
        // mag in [16, 2047]: top bit 4..=10 gives segment 1..=7.
        let seg = 31 - (mag as u32).leading_zeros() - 3;
        let mant = ((mag as u32) >> (seg - 1)) & 0x0F;
        (seg << 4) | mant
    } else {
        mag as u32
    };
    (sign | ix as u8) ^ 0x55
}

/// Decodes one A-law code.
pub const fn alaw_decode(code: u8) -> i16 {
    ALAW_TABLE[code as usize]
}

const fn ulaw_expand(code: u8) -> i16 {
    let c = !code;
    let exp = ((c >> 4) & 0x07) as i32;
    let mant = (c & 0x0F) as i32;
    let step = 4 << (exp + 1);
    let mag = (0x80 << exp) + step * mant + step / 2 - 4 * 33;
    if code < 0x80 { -mag as i16 } else { mag as i16 }
}

const fn alaw_expand(code: u8) -> i16 {
    let ix = ((code ^ 0x55) & 0x7F) as i32;
    let exp = ix >> 4;
    let mut mant = ix & 0x0F;
    if exp > 0 {
        mant += 16;
    }
    mant = (mant << 4) + 8;
    if exp > 1 {
        mant <<= exp - 1;
    }
    if code > 127 {
        mant as i16
    } else {
        -mant as i16
    }
}

const fn table(alaw: bool) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if alaw {
            alaw_expand(i as u8)
        } else {
            ulaw_expand(i as u8)
        };
        i += 1;
    }
    t
}

static ULAW_TABLE: [i16; 256] = table(false);
static ALAW_TABLE: [i16; 256] = table(true);

/// Appends the mu-law codes of `samples` to `out`.
pub fn ulaw_encode_into(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|&s| ulaw_encode(s)));
}

/// Appends the samples of mu-law `codes` to `out`.
pub fn ulaw_decode_into(codes: &[u8], out: &mut Vec<i16>) {
    out.extend(codes.iter().map(|&c| ulaw_decode(c)));
}

/// Appends the A-law codes of `samples` to `out`.
pub fn alaw_encode_into(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|&s| alaw_encode(s)));
}

/// Appends the samples of A-law `codes` to `out`.
pub fn alaw_decode_into(codes: &[u8], out: &mut Vec<i16>) {
    out.extend(codes.iter().map(|&c| alaw_decode(c)));
}
