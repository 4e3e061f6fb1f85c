# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_hiktalk_global_optspecs
    string join \n config= q/quiet json v/verbose h/help V/version
end

function __fish_hiktalk_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_hiktalk_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_hiktalk_using_subcommand
    set -l cmd (__fish_hiktalk_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c hiktalk -n "__fish_hiktalk_needs_command" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_needs_command" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "play" -d 'Stream an audio file (or stdin) to a camera\'s speaker in real time'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "say" -d 'Say a text through cameras\' speakers (text to speech with espeak-ng)'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "speak" -d 'Talk through a camera with the microphone until Ctrl-C'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "listen" -d 'Hear what the device\'s microphone hears, through the speakers or into a file'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "devices" -d 'List audio inputs (for `speak --input`) and outputs (for `--output`)'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "serve" -d 'Serve the configured cameras over HTTP: a native JSON API and a go2rtc-compatible subset'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "status" -d 'Show a device\'s model, firmware and talk channels'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "close" -d 'Close a stuck talk session left by any client'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "answer" -d 'Answer a ringing doorbell, then talk (or play a message) until either side hangs up'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "hangup" -d 'End a doorbell call in progress (callSignal hangUp)'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "reject" -d 'Reject a ringing doorbell\'s call (callSignal reject)'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "wait-ring" -d 'Wait until a doorbell rings; prints who rings where the device says'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "unlock" -d 'Open a door station\'s lock'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "events" -d 'Print the device\'s events (alertStream) as JSON lines until Ctrl-C'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "volume" -d 'Show or set a device\'s speaker, talk or microphone volume'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "check" -d 'Test whether a device works with hiktalk, and what to do if not'
complete -c hiktalk -n "__fish_hiktalk_needs_command" -f -a "sim" -d 'Run a simulated Hikvision device (for tests and demos)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -s u -l user -d 'User name [default: from the config or URL, else admin]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l channel -d 'Talk channel id [default: the device\'s first]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l tls-fingerprint -d 'Trust the device\'s TLS certificate with this SHA-256 fingerprint' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l connect-timeout -d 'Seconds allowed to connect' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l timeout -d 'Seconds allowed for each request and its whole answer; after a stop, for the close' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l retries -d 'Reconnect attempts after a fault the user did not cause (speak, listen, play --loop); restored after a minute of good audio, and never more than 20 in an hour' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l stall-timeout -d 'Seconds a device may stop reading (or sending) audio before the connection counts as dead' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l codec -d 'Encode with this codec whatever the channel says' -r -f -a "ulaw\t''
alaw\t''
g726\t''
aac\t''
pcm\t''
opus\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l set-codec -d 'Switch the channel to this codec first; restored afterwards unless --keep-codec' -r -f -a "ulaw\t''
alaw\t''
g726\t''
aac\t''
pcm\t''
opus\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l sync-wait -d 'With several cameras: seconds to wait for every session to open before the audio starts; a device later than that joins at the current position' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l volume -d 'Gain in dB (negative is quieter); peaks are limited, never wrapped' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l raw-format -d 'Headerless samples (stdin or a raw file) as FORMAT:RATE:CHANNELS (s16le, s16be, u8, f32le, mulaw, alaw), e.g. s16le:16000:1; refused (exit 3) for a WAV, MP3, FLAC or Ogg input, whose header says its format' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l password-stdin -d 'Read the password from the first line of stdin'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l insecure -d 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l take-over -d 'Close another client\'s session on the channel before opening ours'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l keep-codec -d 'Keep the codec --set-codec chose'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l stop-ring -d 'Doorbells: stop the ring first (audio sent while the door unit rings is not played, so without this flag nothing is sent to a ringing unit: exit 14)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l loop -d 'Repeat the file until stopped (reconnects after faults, like speak)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand play" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -s u -l user -d 'User name [default: from the config or URL, else admin]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l channel -d 'Talk channel id [default: the device\'s first]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l tls-fingerprint -d 'Trust the device\'s TLS certificate with this SHA-256 fingerprint' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l connect-timeout -d 'Seconds allowed to connect' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l timeout -d 'Seconds allowed for each request and its whole answer; after a stop, for the close' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l retries -d 'Reconnect attempts after a fault the user did not cause (speak, listen, play --loop); restored after a minute of good audio, and never more than 20 in an hour' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l stall-timeout -d 'Seconds a device may stop reading (or sending) audio before the connection counts as dead' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l codec -d 'Encode with this codec whatever the channel says' -r -f -a "ulaw\t''
alaw\t''
g726\t''
aac\t''
pcm\t''
opus\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l set-codec -d 'Switch the channel to this codec first; restored afterwards unless --keep-codec' -r -f -a "ulaw\t''
alaw\t''
g726\t''
aac\t''
pcm\t''
opus\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l sync-wait -d 'With several cameras: seconds to wait for every session to open before the audio starts; a device later than that joins at the current position' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l volume -d 'Gain in dB (negative is quieter); peaks are limited, never wrapped' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l voice -d 'espeak-ng voice, e.g. en, en-us, de, fr+f3 (`espeak-ng --voices` lists them)' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l rate -d 'Speed in words per minute [default: espeak-ng\'s, 175]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l password-stdin -d 'Read the password from the first line of stdin'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l insecure -d 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l take-over -d 'Close another client\'s session on the channel before opening ours'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l keep-codec -d 'Keep the codec --set-codec chose'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l stop-ring -d 'Doorbells: stop the ring first (audio sent while the door unit rings is not played, so without this flag nothing is sent to a ringing unit: exit 14)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l loop -d 'Say it again and again until stopped (reconnects after faults, like speak)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand say" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -s u -l user -d 'User name [default: from the config or URL, else admin]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l channel -d 'Talk channel id [default: the device\'s first]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l tls-fingerprint -d 'Trust the device\'s TLS certificate with this SHA-256 fingerprint' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l connect-timeout -d 'Seconds allowed to connect' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l timeout -d 'Seconds allowed for each request and its whole answer; after a stop, for the close' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l retries -d 'Reconnect attempts after a fault the user did not cause (speak, listen, play --loop); restored after a minute of good audio, and never more than 20 in an hour' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l stall-timeout -d 'Seconds a device may stop reading (or sending) audio before the connection counts as dead' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l codec -d 'Encode with this codec whatever the channel says' -r -f -a "ulaw\t''
alaw\t''
g726\t''
aac\t''
pcm\t''
opus\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l set-codec -d 'Switch the channel to this codec first; restored afterwards unless --keep-codec' -r -f -a "ulaw\t''
alaw\t''
g726\t''
aac\t''
pcm\t''
opus\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l sync-wait -d 'With several cameras: seconds to wait for every session to open before the audio starts; a device later than that joins at the current position' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l volume -d 'Gain in dB (negative is quieter); peaks are limited, never wrapped' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -s i -l input -d 'Input device: an id or index from `hiktalk devices`, or part of its description' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l vad -d 'Talk only while the input is louder than this level (dBFS, e.g. -45): the session opens on the first speech and closes after --hold of silence, as often as needed' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l hold -d 'With --vad: seconds of silence that close the session (the device\'s speaker stops hissing); it reopens on speech' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l echo -d 'Which echo to cancel (WebRTC\'s AEC3). local: the room\'s, what your speaker plays and your microphone hears again (a laptop, a speakerphone: the visitor would hear themselves). device: your own voice coming back from the device (a door station that does not cancel its own echo). both. off: a headset, or a device and room with no echo. Default: local while what the device hears plays on a speaker, else off' -r -f -a "local\t''
device\t''
both\t''
off\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l output -d 'Output device for what the device hears: an id or index from `hiktalk devices`' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l password-stdin -d 'Read the password from the first line of stdin'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l insecure -d 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l take-over -d 'Close another client\'s session on the channel before opening ours'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l keep-codec -d 'Keep the codec --set-codec chose'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l stop-ring -d 'Doorbells: stop the ring first (audio sent while the door unit rings is not played, so without this flag nothing is sent to a ringing unit: exit 14)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l ptt -d 'Push-to-talk: silence until space is pressed, space again to stop (terminal only)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l stats -d 'Print latency and drop statistics at the end'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l no-listen -d 'Talk only: do not play what the device\'s microphone hears'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l half-duplex -d 'Turn the device down (-30 dB) while you speak, so its echo of your voice is not heard (speech is detected at the --vad level, -45 dBFS by default)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l echo-cancel -d 'Same as --echo device (the older spelling)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l clean-listen -d 'Clean what the device sends back: noise suppression and adaptive gain (an outdoor unit\'s quiet, noisy microphone)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l clean-mic -d 'Clean your microphone the same way before it is sent (a quiet laptop microphone)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand speak" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -s u -l user -d 'User name [default: from the config or URL, else admin]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -l channel -d 'Talk channel id [default: the device\'s first]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -l tls-fingerprint -d 'Trust the device\'s TLS certificate with this SHA-256 fingerprint' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -l connect-timeout -d 'Seconds allowed to connect' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -l timeout -d 'Seconds allowed for each request and its whole answer; after a stop, for the close' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -l retries -d 'Reconnect attempts after a fault the user did not cause (speak, listen, play --loop); restored after a minute of good audio, and never more than 20 in an hour' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -l stall-timeout -d 'Seconds a device may stop reading (or sending) audio before the connection counts as dead' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -s o -l out -d 'Write a WAV file instead of playing (`-` writes it to stdout, for pipes)' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -l output -d 'Output device: an id or index from `hiktalk devices`, or part of its description' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -l duration -d 'Stop after this many seconds' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -l password-stdin -d 'Read the password from the first line of stdin'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -l insecure -d 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -l take-over -d 'Close another client\'s session on the channel before opening ours'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -l raw -d 'With -o: headerless s16le samples instead of WAV'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -l stats -d 'Print jitter-buffer and network figures at the end'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand listen" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand devices" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand devices" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand devices" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand devices" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand devices" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand devices" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l listen -d 'Address to listen on; anything but loopback needs --token-file' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l token-file -d 'File whose first line is the token every request but /healthz must send as `Authorization: Bearer TOKEN`' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l tls-cert -d 'The certificate chain for --tls, PEM' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l tls-key -d 'The private key of --tls-cert, PEM' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l max-body -d 'Largest audio upload accepted, in bytes' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l max-requests -d 'Requests handled at once; more wait' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -s u -l user -d 'User name [default: from the config or URL, else admin]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l channel -d 'Talk channel id [default: the device\'s first]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l tls-fingerprint -d 'Trust the device\'s TLS certificate with this SHA-256 fingerprint' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l connect-timeout -d 'Seconds allowed to connect' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l timeout -d 'Seconds allowed for each request and its whole answer; after a stop, for the close' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l retries -d 'Reconnect attempts after a fault the user did not cause (speak, listen, play --loop); restored after a minute of good audio, and never more than 20 in an hour' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l stall-timeout -d 'Seconds a device may stop reading (or sending) audio before the connection counts as dead' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l codec -d 'Encode with this codec whatever the channel says' -r -f -a "ulaw\t''
alaw\t''
g726\t''
aac\t''
pcm\t''
opus\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l set-codec -d 'Switch the channel to this codec first; restored afterwards unless --keep-codec' -r -f -a "ulaw\t''
alaw\t''
g726\t''
aac\t''
pcm\t''
opus\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l sync-wait -d 'With several cameras: seconds to wait for every session to open before the audio starts; a device later than that joins at the current position' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l volume -d 'Gain in dB (negative is quieter); peaks are limited, never wrapped' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l mqtt -d 'Also publish and obey MQTT, with Home Assistant discovery: mqtt://[USER@]HOST[:PORT], or mqtts:// for TLS; the password from HIKTALK_MQTT_PASSWORD or --mqtt-password-file' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l mqtt-password-file -d 'File whose first line is the broker password' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l mqtt-ca -d 'PEM certificates of the authorities an mqtts:// broker is checked against [default: the system\'s]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l mqtt-topic -d 'Topic under which hiktalk\'s state, command and result topics live (and its client id: two serves on one broker want two topics)' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l mqtt-discovery-prefix -d 'Home Assistant\'s discovery prefix' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l mqtt-queue -d 'Announcements an MQTT command may queue behind the one a camera plays; more are refused as busy' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l sounds -d 'Directory of sounds the `sound` entity plays by name (file names without their extension)' -r -f -a "(__fish_complete_directories)"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l tls -d 'Serve HTTPS (browsers give the handset page a microphone only on a secure origin): with --tls-cert and --tls-key, that certificate; without, a self-signed one made on first use and kept in the data directory. Its SHA-256 fingerprint is printed at start'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l allow-urls -d 'Let API requests name a camera by URL (http://[user@]host[:port][/channel]) as the command line does; without it only the configured cameras and groups are reachable'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l password-stdin -d 'Read the password from the first line of stdin'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l insecure -d 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l take-over -d 'Close another client\'s session on the channel before opening ours'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l keep-codec -d 'Keep the codec --set-codec chose'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l stop-ring -d 'Doorbells: stop the ring first (audio sent while the door unit rings is not played, so without this flag nothing is sent to a ringing unit: exit 14)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand serve" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand status" -s u -l user -d 'User name [default: from the config or URL, else admin]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand status" -l channel -d 'Talk channel id [default: the device\'s first]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand status" -l tls-fingerprint -d 'Trust the device\'s TLS certificate with this SHA-256 fingerprint' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand status" -l connect-timeout -d 'Seconds allowed to connect' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand status" -l timeout -d 'Seconds allowed for each request and its whole answer; after a stop, for the close' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand status" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand status" -l password-stdin -d 'Read the password from the first line of stdin'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand status" -l insecure -d 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand status" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand status" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand status" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand status" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand close" -s u -l user -d 'User name [default: from the config or URL, else admin]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand close" -l channel -d 'Talk channel id [default: the device\'s first]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand close" -l tls-fingerprint -d 'Trust the device\'s TLS certificate with this SHA-256 fingerprint' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand close" -l connect-timeout -d 'Seconds allowed to connect' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand close" -l timeout -d 'Seconds allowed for each request and its whole answer; after a stop, for the close' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand close" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand close" -l password-stdin -d 'Read the password from the first line of stdin'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand close" -l insecure -d 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand close" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand close" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand close" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand close" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand close" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -s u -l user -d 'User name [default: from the config or URL, else admin]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l channel -d 'Talk channel id [default: the device\'s first]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l tls-fingerprint -d 'Trust the device\'s TLS certificate with this SHA-256 fingerprint' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l connect-timeout -d 'Seconds allowed to connect' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l timeout -d 'Seconds allowed for each request and its whole answer; after a stop, for the close' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l retries -d 'Reconnect attempts after a fault the user did not cause (speak, listen, play --loop); restored after a minute of good audio, and never more than 20 in an hour' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l stall-timeout -d 'Seconds a device may stop reading (or sending) audio before the connection counts as dead' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l codec -d 'Encode with this codec whatever the channel says' -r -f -a "ulaw\t''
alaw\t''
g726\t''
aac\t''
pcm\t''
opus\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l set-codec -d 'Switch the channel to this codec first; restored afterwards unless --keep-codec' -r -f -a "ulaw\t''
alaw\t''
g726\t''
aac\t''
pcm\t''
opus\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l sync-wait -d 'With several cameras: seconds to wait for every session to open before the audio starts; a device later than that joins at the current position' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l volume -d 'Gain in dB (negative is quieter); peaks are limited, never wrapped' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -s i -l input -d 'Input device: an id or index from `hiktalk devices`, or part of its description' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l vad -d 'Talk only while the input is louder than this level (dBFS, e.g. -45): the session opens on the first speech and closes after --hold of silence, as often as needed' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l hold -d 'With --vad: seconds of silence that close the session (the device\'s speaker stops hissing); it reopens on speech' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l echo -d 'Which echo to cancel (WebRTC\'s AEC3). local: the room\'s, what your speaker plays and your microphone hears again (a laptop, a speakerphone: the visitor would hear themselves). device: your own voice coming back from the device (a door station that does not cancel its own echo). both. off: a headset, or a device and room with no echo. Default: local while what the device hears plays on a speaker, else off' -r -f -a "local\t''
device\t''
both\t''
off\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l output -d 'Output device for what the device hears: an id or index from `hiktalk devices`' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l play -d 'Play this audio file (or - for stdin) instead of talking with the microphone' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l wait -d 'Not ringing: wait for the next ring (at most SECS seconds, exit 12 after them)' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l heartbeat-timeout -d 'Seconds the event stream may go without a whole part (heartbeat or event) before it is reopened' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l poll-interval -d 'Seconds between two readings of the call state (callStatus)' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l password-stdin -d 'Read the password from the first line of stdin'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l insecure -d 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l take-over -d 'Close another client\'s session on the channel before opening ours'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l keep-codec -d 'Keep the codec --set-codec chose'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l stop-ring -d 'Doorbells: stop the ring first (audio sent while the door unit rings is not played, so without this flag nothing is sent to a ringing unit: exit 14)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l ptt -d 'Push-to-talk: silence until space is pressed, space again to stop (terminal only)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l stats -d 'Print latency and drop statistics at the end'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l no-listen -d 'Talk only: do not play what the device\'s microphone hears'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l half-duplex -d 'Turn the device down (-30 dB) while you speak, so its echo of your voice is not heard (speech is detected at the --vad level, -45 dBFS by default)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l echo-cancel -d 'Same as --echo device (the older spelling)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l clean-listen -d 'Clean what the device sends back: noise suppression and adaptive gain (an outdoor unit\'s quiet, noisy microphone)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l clean-mic -d 'Clean your microphone the same way before it is sent (a quiet laptop microphone)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -s h -l help -d 'Print help'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand answer" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand hangup" -s u -l user -d 'User name [default: from the config or URL, else admin]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand hangup" -l channel -d 'Talk channel id [default: the device\'s first]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand hangup" -l tls-fingerprint -d 'Trust the device\'s TLS certificate with this SHA-256 fingerprint' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand hangup" -l connect-timeout -d 'Seconds allowed to connect' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand hangup" -l timeout -d 'Seconds allowed for each request and its whole answer; after a stop, for the close' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand hangup" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand hangup" -l password-stdin -d 'Read the password from the first line of stdin'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand hangup" -l insecure -d 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand hangup" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand hangup" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand hangup" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand hangup" -s h -l help -d 'Print help'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand hangup" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand reject" -s u -l user -d 'User name [default: from the config or URL, else admin]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand reject" -l channel -d 'Talk channel id [default: the device\'s first]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand reject" -l tls-fingerprint -d 'Trust the device\'s TLS certificate with this SHA-256 fingerprint' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand reject" -l connect-timeout -d 'Seconds allowed to connect' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand reject" -l timeout -d 'Seconds allowed for each request and its whole answer; after a stop, for the close' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand reject" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand reject" -l password-stdin -d 'Read the password from the first line of stdin'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand reject" -l insecure -d 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand reject" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand reject" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand reject" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand reject" -s h -l help -d 'Print help'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand reject" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand wait-ring" -s u -l user -d 'User name [default: from the config or URL, else admin]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand wait-ring" -l channel -d 'Talk channel id [default: the device\'s first]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand wait-ring" -l tls-fingerprint -d 'Trust the device\'s TLS certificate with this SHA-256 fingerprint' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand wait-ring" -l connect-timeout -d 'Seconds allowed to connect' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand wait-ring" -l timeout -d 'Give up after SECS seconds without a ring (exit 12)' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand wait-ring" -l heartbeat-timeout -d 'Seconds the event stream may go without a whole part (heartbeat or event) before it is reopened' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand wait-ring" -l poll-interval -d 'Seconds between two readings of the call state (callStatus)' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand wait-ring" -l request-timeout -d 'Seconds allowed for each request and its whole answer; after a stop, for the close' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand wait-ring" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand wait-ring" -l password-stdin -d 'Read the password from the first line of stdin'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand wait-ring" -l insecure -d 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand wait-ring" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand wait-ring" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand wait-ring" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand wait-ring" -s h -l help -d 'Print help'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand wait-ring" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand unlock" -s u -l user -d 'User name [default: from the config or URL, else admin]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand unlock" -l channel -d 'Talk channel id [default: the device\'s first]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand unlock" -l tls-fingerprint -d 'Trust the device\'s TLS certificate with this SHA-256 fingerprint' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand unlock" -l connect-timeout -d 'Seconds allowed to connect' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand unlock" -l timeout -d 'Seconds allowed for each request and its whole answer; after a stop, for the close' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand unlock" -l door -d 'The door (lock relay) to open, from 1' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand unlock" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand unlock" -l password-stdin -d 'Read the password from the first line of stdin'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand unlock" -l insecure -d 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand unlock" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand unlock" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand unlock" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand unlock" -s h -l help -d 'Print help'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand unlock" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand events" -s u -l user -d 'User name [default: from the config or URL, else admin]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand events" -l channel -d 'Talk channel id [default: the device\'s first]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand events" -l tls-fingerprint -d 'Trust the device\'s TLS certificate with this SHA-256 fingerprint' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand events" -l connect-timeout -d 'Seconds allowed to connect' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand events" -l timeout -d 'Seconds allowed for each request and its whole answer; after a stop, for the close' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand events" -l type -d 'Print only events of these types (type or the device\'s eventType, any case; repeatable or a list: ring,doorUnlocked,VMD)' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand events" -l heartbeat-timeout -d 'Seconds the event stream may go without a whole part (heartbeat or event) before it is reopened' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand events" -l poll-interval -d 'Seconds between two readings of the call state (callStatus)' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand events" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand events" -l password-stdin -d 'Read the password from the first line of stdin'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand events" -l insecure -d 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand events" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand events" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand events" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand events" -s h -l help -d 'Print help'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand events" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand volume" -s u -l user -d 'User name [default: from the config or URL, else admin]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand volume" -l channel -d 'Talk channel id [default: the device\'s first]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand volume" -l tls-fingerprint -d 'Trust the device\'s TLS certificate with this SHA-256 fingerprint' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand volume" -l connect-timeout -d 'Seconds allowed to connect' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand volume" -l timeout -d 'Seconds allowed for each request and its whole answer; after a stop, for the close' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand volume" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand volume" -l password-stdin -d 'Read the password from the first line of stdin'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand volume" -l insecure -d 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand volume" -l mic -d 'Set the microphone volume instead'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand volume" -l speaker -d 'Door stations: set the speaker volume (AudioOut volume) instead of the talk volume'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand volume" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand volume" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand volume" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand volume" -s h -l help -d 'Print help'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand volume" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand check" -s u -l user -d 'User name [default: from the config or URL, else admin]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand check" -l channel -d 'Talk channel id [default: the device\'s first]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand check" -l tls-fingerprint -d 'Trust the device\'s TLS certificate with this SHA-256 fingerprint' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand check" -l connect-timeout -d 'Seconds allowed to connect' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand check" -l timeout -d 'Seconds allowed for each request and its whole answer; after a stop, for the close' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand check" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand check" -l password-stdin -d 'Read the password from the first line of stdin'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand check" -l insecure -d 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand check" -l markdown -d 'Print one row of the compatibility table (README\'s) per device instead of the checks'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand check" -l idle -d 'Also measure how long the device waits without audio before it hangs up (it plays its "call ended" prompt once; up to a minute)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand check" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand check" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand check" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand check" -s V -l version -d 'Print version'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l listen -d 'Address to listen on; port 0 picks a free port' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l user -d 'Device user name' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l password -d 'Device password' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l profile -d 'Firmware to play: modern (camera, sessionId required), doorbell (isapi.org namespace, callStatus/callSignal, rings end talk), legacy (PSIA namespace, no sessionId), aac-only (lists G.711, refuses open until the channel is set to AAC)' -r -f -a "modern\t''
doorbell\t''
legacy\t''
aac-only\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l devices -d 'Serve N devices from this one process, each with its own port (consecutive from --listen\'s, or any free one with port 0), state, log and figures' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l profile-mix -d 'The devices\' profiles in proportion, e.g. modern:3,doorbell:1: devices 1-3 are cameras, 4 a doorbell, 5-7 cameras again... (instead of --profile)' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l device-fault -d 'A fault for device N only (repeatable), e.g. 3:hangup-after-secs=2 (see --fault)' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l device-password -d 'Another password for device N only (repeatable), e.g. 2:other-secret' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l idle-timeout -d 'Seconds without audio after which the device hangs up an open session ("call ended")' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l stale-expiry -d 'Seconds a session left by a vanished client blocks the channel' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l lockout-attempts -d 'Failed logins for one user from one IP before it is locked out [default: 7 for admin, 5 for other users, as older firmware does]' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l lockout-secs -d 'Seconds a locked-out IP stays locked' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l nonce-lifetime -d 'Seconds a Digest nonce is valid; older nonces get `stale=TRUE`' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l busy-style -d 'How a second open on a busy channel is refused: profile (its default), 401, 403, 503, unavailable (503, statusCode 2 serviceUnavailable) or in-progress (403, twoWayAudioInProgressPleaseWait)' -r -f -a "profile\t''
401\t''
403\t''
503\t''
unavailable\t''
in-progress\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l fault -d 'Inject a fault (repeatable), e.g. http500=open,times=1; see --help' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l events -d 'Write every event as a JSON line to this file (`-` for stdout)' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l record-dir -d 'Record each session\'s received audio as a WAV file in this directory' -r -f -a "(__fish_complete_directories)"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l keep-audio -d 'Megabytes of received audio kept in memory (raw and decoded, the newest uploads; at most 64 uploads, the newest always): a simulator left running drops the oldest instead of growing (an hour of G.711 is about 86 MB). --record-dir keeps everything on disk' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l channels -d 'Number of talk channels' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l codec -d 'Initial channel codec instead of G.711ulaw' -r -f -a "ulaw\t''
alaw\t''
g726\t''
aac\t''
pcm\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l ring-after -d 'Doorbell: ring this many seconds after an upload starts (the ring ends the talk)' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l ring-every -d 'Doorbell: a visitor rings every SECS seconds from the start' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l ring-at -d 'Doorbell: a visitor rings SECS seconds after the start (repeatable, or a list: 2,5.5,10)' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l ring-duration -l bell-timeout -d 'Doorbell: the bell timeout: seconds an unanswered ring lasts before the call goes back to idle (logged with cause bellTimeout)' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l call-signal-style -d 'Doorbell: how callSignal answers: number (statusCode 1, subStatusCode ok) or string (statusCode "1", errorMsg, errorCode, as some firmware writes it)' -r -f -a "number\t''
string\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l doors -d 'Doorbell: number of doors (lock relays); door numbers are 1..=N' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l door-api -d 'Doorbell: the door API: remote-control (PUT /ISAPI/AccessControl/RemoteControl/door/N with RemoteControlDoor), remote-open-door (only PUT /ISAPI/VideoIntercom/remoteOpenDoor with RemoteOpenDoor, as older units), or both' -r -f -a "remote-control\t''
remote-open-door\t''
both\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l door-open-time -d 'Doorbell: seconds an opened door stays unlocked before it relocks' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l heartbeat -d 'Seconds between alertStream heartbeats (videoloss, inactive); clients take 40-60 s without a part for a dead stream' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l event-every -d 'A detection every SECS seconds, each of the profile\'s in turn: motion (VMD), line crossing, intrusion (fielddetection), tamper, alarm input (IO) on cameras; motion and IO on the door station; motion, tamper and IO on legacy' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l alarm-duration -d 'Seconds a detection lasts: `active` parts (activePostCount 1, 2, ...) about every second, then one `inactive`; a new detection meanwhile extends it' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l alert-format -d 'The alertStream\'s format: xml (EventNotificationAlert, as cameras) or json (as door stations); default: the profile\'s. A door station in xml sends its ring as alarm input 1 (IO), which camera event clients track, and no door events' -r -f -a "xml\t''
json\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l header-timeout -d 'Seconds allowed for a request\'s headers to arrive (slow clients are dropped)' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l buffer -d 'Seconds of audio the speaker buffers; audio arriving beyond it is lost and counted as overflow, as a real speaker would lose it' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l require-session-id -d 'Refuse audioData and close without the sessionId open returned (or with another); [default: on for the doorbell profile, off for cameras, which work without it]' -r -f -a "true\t''
false\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l expect -d 'An audioData PUT with `Expect: 100-continue`: `ignore` answers 200 at once, as devices answer every upload (the default; what devices do with Expect is unconfirmed, and a client waiting for 100 Continue then sends nothing), or `continue` answers 100 Continue, reads the announced body as the audio, then answers 200' -r -f -a "ignore\t''
continue\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l mic -d 'The device microphone (audioData GET) hears this audio file (WAV, MP3, FLAC, Ogg Vorbis), looped from its first 10 minutes, instead of a 440 Hz tone; it is decoded at start and the start fails if it cannot be' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l inbound-codec -d 'The microphone\'s codec (ulaw, alaw, g726, aac, pcm), written as audioInboundCompressionType on every channel; without it the microphone uses the channel\'s audioCompressionType. G.711 and G.726 run at 8 kHz, others at the channel\'s audioSamplingRate' -r -f -a "ulaw\t''
alaw\t''
g726\t''
aac\t''
pcm\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l mic-aac -d 'AAC framing of the microphone stream: prefixed (each ADTS frame after its 4-byte big-endian length, as uploads carry it) or bare (plain ADTS frames)' -r -f -a "prefixed\t''
bare\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l mic-framing -d 'HTTP framing of the microphone stream: until-close (no Content-Length), length (Content-Length: 2147483647) or chunked (a chunk per codec frame) [default: the profile\'s: until-close for modern and aac-only, length for doorbell, chunked for legacy]' -r -f -a "until-close\t''
length\t''
chunked\t''"
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l mic-echo -d 'The device hears its own speaker: the microphone picks up what the channel\'s speaker played MS milliseconds earlier, at DB (0 or less; default -6), e.g. 120:-6' -r -f
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l config -d 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]' -r -F
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l no-hangup-body -d 'Close the audioData socket without a ResponseStatus body on a device hang-up'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l basic-challenge -d 'Add a second `WWW-Authenticate: Basic` header to challenges, as some devices do'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l no-call-control -d 'Doorbell: play an old unit (DS-KB6003) without call control: callStatus, callSignal, callerInfo and DELETE ring answer 404 "Can\'t locate the url". Rings still end talk'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l no-event-config -d 'Answer 404 on /ISAPI/Event/triggers and .../motionDetection, as units without them (event integrations then track no event)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l call-status-xml -d 'Doorbell: answer callStatus in XML even when asked for JSON, as old firmware does'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -s q -l quiet -d 'Print nothing but errors'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -l json -d 'Print the outcome as one JSON object on stdout'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -s v -l verbose -d 'Show each request to a device and its answer\'s status on stderr (never credentials)'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hiktalk -n "__fish_hiktalk_using_subcommand sim" -s V -l version -d 'Print version'
