//! Real-socket tests of the bridge: a fake Teler client and a fake remote server on
//! 127.0.0.1, this adapter's bridge server in between. The same file runs for every adapter
//! (only `common/server.rs` differs). Every test runs under a watchdog.

mod common;

teler_test_support::bridge_cases!();

#[test]
fn debug_output_of_a_connector_hides_the_agent_credentials() {
    let config = BridgeConfig::builder("wss://agent.example/ws?token=s3cret-q")
        .header("Authorization", "Bearer s3cret-h")
        .build()
        .unwrap();
    let connector = teler_smol::StreamConnector::new(config, eleven);
    let text = format!("{connector:?}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("agent.example"), "{text}");
}
