//! The `bigchat-voice` binary (commands arrive with the CLI issue).

fn main() {
    eprintln!("bigchat-voice: the command-line interface is not implemented yet");
    std::process::exit(2);
}
