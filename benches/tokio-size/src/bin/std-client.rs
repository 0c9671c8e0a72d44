//! `std-client HOST PORT`: the same client on plain std threads (the floor
//! any Rust client starts from).

use std::io::{copy, stdin, stdout};
use std::net::{Shutdown, TcpStream};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(host), Some(port)) = (args.next(), args.next()) else {
        eprintln!("usage: std-client HOST PORT");
        std::process::exit(2);
    };
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("std-client: bad port");
        std::process::exit(2);
    };
    let result = (|| {
        let stream = TcpStream::connect((host.as_str(), port))?;
        let mut wr = stream.try_clone()?;
        std::thread::spawn(move || {
            let _ = copy(&mut stdin().lock(), &mut wr);
            let _ = wr.shutdown(Shutdown::Write);
        });
        copy(&mut &stream, &mut stdout().lock())?;
        Ok::<(), std::io::Error>(())
    })();
    if let Err(e) = result {
        eprintln!("std-client: {e}");
        std::process::exit(1);
    }
}
