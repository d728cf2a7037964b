//! The REST contract (`docs/REST.md`) on the tokio client: the scenarios every client
//! passes, against a scripted fault server on 127.0.0.1.

use futures_util::StreamExt;
use teler_test_support::contract::{ContractClient, KEY, Opts};
use teler_tokio::rest::voice::{Hangup, ListCalls};
use teler_tokio::rest::{AsyncClient, Call, CreatedCall, Error, RecordingUrl};

struct Tokio {
    client: AsyncClient,
    rt: tokio::runtime::Runtime,
}

impl ContractClient for Tokio {
    const NAME: &'static str = "tokio";

    fn build(base_url: &str, opts: &Opts) -> Self {
        let mut b = AsyncClient::builder(KEY)
            .base_url(base_url)
            .timeout(opts.timeout)
            .retry(opts.retry.clone());
        if let Some(n) = opts.max_response_size {
            b = b.max_response_size(n);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Tokio {
            client: b.build().unwrap(),
            rt,
        }
    }

    fn retrieve_call(&self, id: &str) -> Result<Call, Error> {
        self.rt.block_on(self.client.voice().calls().retrieve(id))
    }

    fn create_call(&self) -> Result<CreatedCall, Error> {
        self.rt.block_on(self.client.calls().create(
            "+15550100001",
            "+15550100002",
            "https://f.example/flow",
            "https://f.example/s",
            false,
        ))
    }

    fn hangup(&self, id: &str) -> Result<(), Error> {
        self.rt
            .block_on(self.client.voice().mutations().hangup(Hangup::new(id)))
            .map(|_| ())
    }

    fn recording(&self, id: &str) -> Result<RecordingUrl, Error> {
        self.rt.block_on(
            self.client
                .recordings()
                .retrieve(teler_tokio::rest::recordings::GetRecording::new(id)),
        )
    }

    fn download(&self, rec: &RecordingUrl) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.rt
            .block_on(self.client.download_recording(rec, &mut out))?;
        Ok(out)
    }

    fn list_calls(&self, max: usize) -> Vec<Result<Call, Error>> {
        self.rt
            .block_on(self.client.paginate(ListCalls::new()).take(max).collect())
    }
}

teler_test_support::rest_contract_cases!(Tokio);
