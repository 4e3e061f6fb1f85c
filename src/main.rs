fn main() {
    std::process::exit(hiktalk::commands::main(std::env::args_os().collect()));
}
