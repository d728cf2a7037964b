//! Property test of the bridge session: random interleavings of both sides' inputs and of
//! time, with the invariants checked after every input by `teler_core::fuzzing::session`
//! (the same model the `session` fuzz target runs).

use std::time::Instant;

use arbitrary::{Arbitrary, Unstructured};
use proptest::prelude::*;
use teler_core::fuzzing::{Op, Setup, session};

fn run(bytes: &[u8]) {
    let mut u = Unstructured::new(bytes);
    let Ok(setup) = Setup::arbitrary(&mut u) else {
        return;
    };
    let ops: Vec<Op> = u.arbitrary_iter().unwrap().filter_map(Result::ok).collect();
    session(Instant::now(), &setup, &ops);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn session_invariants_hold(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        run(&bytes);
    }
}

/// Long calls: many frames, both sides, keepalive, with the remote connecting late.
#[test]
fn long_interleavings_hold() {
    let setup = Setup {
        end_on_bad_frame: false,
        end_on_handler_error: false,
        pre_connect_frames: 7,
        keepalive: true,
    };
    let mut ops = vec![Op::TelerConnected, Op::TelerStart];
    for i in 0..20 {
        ops.push(Op::TelerAudio);
        ops.push(Op::Advance(20 + i));
    }
    ops.push(Op::RemoteConnected);
    for i in 0..500u16 {
        ops.push(if i % 3 == 0 {
            Op::RemoteAudio
        } else {
            Op::TelerAudio
        });
        ops.push(Op::Advance(i % 50));
        if i % 97 == 0 {
            ops.push(Op::RemotePong);
        }
    }
    ops.push(Op::TelerStop);
    ops.push(Op::TelerAudio);
    session(Instant::now(), &setup, &ops);
}

/// The application's commands interleaved with relayed traffic, before and after the remote
/// opens: its messages keep their order and are never counted as relayed.
#[test]
fn app_commands_interleave_with_relayed_frames() {
    let setup = Setup {
        end_on_bad_frame: false,
        end_on_handler_error: false,
        pre_connect_frames: 5,
        keepalive: false,
    };
    let mut ops = vec![Op::TelerConnected, Op::TelerStart];
    for _ in 0..3 {
        ops.extend([Op::TelerAudio, Op::AppToRemote, Op::AppToTeler]);
    }
    ops.push(Op::RemoteConnected);
    for _ in 0..20 {
        ops.extend([
            Op::RemoteAudio,
            Op::AppToTeler,
            Op::TelerAudio,
            Op::AppToRemote,
            Op::AppToTelerBad,
        ]);
    }
    ops.push(Op::GoAway);
    ops.push(Op::AppToTeler);
    session(Instant::now(), &setup, &ops);
}
