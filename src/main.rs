// Temporary for manual testing of the capture branch; the lead replaces this at merge.
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("devices") => hiktalk::commands::devices::run(args.get(2).is_some_and(|a| a == "--json")),
        Some("capture") => {
            let mut c = hiktalk::audio::capture::Capture::open(args.get(2).map(String::as_str))?;
            eprintln!("{}", c.describe());
            let mut buf = Vec::new();
            for _ in 0..50 {
                std::thread::sleep(std::time::Duration::from_millis(20));
                let t = c.read(&mut buf);
                eprintln!("{} samples, oldest {:?} ago, dropped {}", buf.len(), t.map(|t| t.elapsed()), c.dropped_samples());
                buf.clear();
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
