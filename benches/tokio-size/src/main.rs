//! `tokio-client HOST PORT`: connect, copy stdin to the socket (then
//! half-close) and the socket to stdout, on a current-thread runtime.

use tokio::io::{copy, stdin, stdout, AsyncWriteExt};
use tokio::net::TcpStream;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(host), Some(port)) = (args.next(), args.next()) else {
        eprintln!("usage: tokio-client HOST PORT");
        std::process::exit(2);
    };
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("tokio-client: bad port");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let result: std::io::Result<()> = rt.block_on(async move {
        let stream = TcpStream::connect((host.as_str(), port)).await?;
        let (mut rd, mut wr) = stream.into_split();
        let up = tokio::spawn(async move {
            copy(&mut stdin(), &mut wr).await?;
            wr.shutdown().await
        });
        copy(&mut rd, &mut stdout()).await?;
        up.abort();
        Ok(())
    });
    if let Err(e) = result {
        eprintln!("tokio-client: {e}");
        std::process::exit(1);
    }
}
