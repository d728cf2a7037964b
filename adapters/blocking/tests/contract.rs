//! The REST contract (`docs/REST.md`) on the blocking client: the scenarios every client
//! passes, against a scripted fault server on 127.0.0.1.

use teler_blocking::rest::voice::{Hangup, ListCalls};
use teler_blocking::rest::{Call, Client, CreatedCall, Error, RecordingUrl};
use teler_test_support::contract::{ContractClient, KEY, Opts};

struct Blocking(Client);

impl ContractClient for Blocking {
    const NAME: &'static str = "blocking";

    fn build(base_url: &str, opts: &Opts) -> Self {
        let mut b = Client::builder(KEY)
            .base_url(base_url)
            .timeout(opts.timeout)
            .retry(opts.retry.clone());
        if let Some(n) = opts.max_response_size {
            b = b.max_response_size(n);
        }
        Blocking(b.build().unwrap())
    }

    fn retrieve_call(&self, id: &str) -> Result<Call, Error> {
        self.0.voice().calls().retrieve(id)
    }

    fn create_call(&self) -> Result<CreatedCall, Error> {
        self.0.calls().create(
            "+15550100001",
            "+15550100002",
            "https://f.example/flow",
            "https://f.example/s",
            false,
        )
    }

    fn hangup(&self, id: &str) -> Result<(), Error> {
        self.0
            .voice()
            .mutations()
            .hangup(Hangup::new(id))
            .map(|_| ())
    }

    fn recording(&self, id: &str) -> Result<RecordingUrl, Error> {
        self.0
            .recordings()
            .retrieve(teler_blocking::rest::recordings::GetRecording::new(id))
    }

    fn download(&self, rec: &RecordingUrl) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.0.download_recording(rec, &mut out)?;
        Ok(out)
    }

    fn list_calls(&self, max: usize) -> Vec<Result<Call, Error>> {
        self.0.paginate(ListCalls::new()).take(max).collect()
    }
}

teler_test_support::rest_contract_cases!(Blocking);
