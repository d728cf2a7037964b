//! A real `redis-server` for the fleet tests: started on a free 127.0.0.1 port with
//! persistence off, killed on drop.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `redis-server` child on 127.0.0.1, killed on drop.
pub struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    /// A server on a free port.
    pub fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Redis::start_on(port)
    }

    /// A server on `port` (e.g. the one a killed server had), once it accepts connections.
    pub fn start_on(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (Debian: apt-get install redis-server; .ci/run does it)");
        let mut r = Redis { child, port };
        // Synchronise on the server accepting connections (or fail if it exited: the port
        // was taken, say).
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = r.child.try_wait() {
                panic!("redis-server on port {port} exited: {status}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        r
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Runs one command (`SET key value`, …) on a connection of its own, returning the
    /// first line of the answer (`+OK`).
    pub fn command(&self, args: &[&str]) -> String {
        use std::io::{BufRead, BufReader, Write};
        let mut tcp = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        tcp.write_all(req.as_bytes()).unwrap();
        let mut line = String::new();
        BufReader::new(tcp).read_line(&mut line).unwrap();
        line.trim_end().to_owned()
    }

    /// Kills the server (SIGKILL), returning its port.
    pub fn kill(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
