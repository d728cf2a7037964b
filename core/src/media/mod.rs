//! Teler's media stream: typed messages, handlers and the bridge session.

mod handler;
mod message;
mod session;

pub use handler::{
    HandlerError, HandlerResult, Message, Outbox, StreamHandler, StreamOp, Typed, relay, typed,
};
pub use message::{
    AppMessage, AudioFrame, FrameError, MediaFormat, StartFrame, StartInfo, TelerMessage,
    write_json_str,
};
pub use session::{
    BinaryFrames, Bridge, BridgeConfig, BridgeConfigBuilder, CLOSE_FAILURE, CLOSE_GOING_AWAY,
    CLOSE_NORMAL, CLOSE_POLICY, CloseInfo, Command, CommandError, ConfigError,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_PRE_CONNECT_BYTES, DEFAULT_PRE_CONNECT_FRAMES, DEFAULT_READ_BUFFER_SIZE,
    DEFAULT_REMOTE_IDLE_TIMEOUT, DEFAULT_START_TIMEOUT, DEFAULT_TELER_IDLE_TIMEOUT,
    DEFAULT_WRITE_BUFFER_SIZE, Dial, DirectionStats, EndReason, EndSummary, Event, Frame,
    FramePolicy, HandlerErrorPolicy, OutFrame, Output, RejectReason, RemoteConnect, STOP_REASON,
    Side, Stats, StreamType, TimeoutKind, redacted_url,
};
