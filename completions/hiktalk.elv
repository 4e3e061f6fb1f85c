
use builtin;
use str;

set edit:completion:arg-completer[hiktalk] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'hiktalk'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'hiktalk'= {
            cand --config 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand --json 'Print the outcome as one JSON object on stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand play 'Stream an audio file (or stdin) to a camera''s speaker in real time'
            cand speak 'Talk through a camera with the microphone until Ctrl-C'
            cand devices 'List audio input devices (for `speak --input`)'
            cand status 'Show a device''s model, firmware and talk channels'
            cand close 'Close a stuck talk session left by any client'
            cand sim 'Run a simulated Hikvision device (for tests and demos)'
        }
        &'hiktalk;play'= {
            cand -u 'User name [default: from the config or URL, else admin]'
            cand --user 'User name [default: from the config or URL, else admin]'
            cand --channel 'Talk channel id [default: the device''s first]'
            cand --tls-fingerprint 'Trust the device''s TLS certificate with this SHA-256 fingerprint'
            cand --connect-timeout 'Seconds allowed to connect'
            cand --timeout 'Seconds allowed for each request and its whole answer; after a stop, for the close'
            cand --codec 'Encode with this codec whatever the channel says (ulaw, alaw, g726, aac, pcm, opus)'
            cand --set-codec 'Switch the channel to this codec first; restored afterwards unless --keep-codec'
            cand --retries 'Reconnect attempts after a fault the user did not cause (speak, play --loop); restored after a minute of good audio, and never more than 20 in an hour'
            cand --volume 'Gain in dB (negative is quieter); peaks are limited, never wrapped'
            cand --stall-timeout 'Seconds a device may stop reading audio before the connection counts as dead'
            cand --raw-format 'Raw stdin samples as FORMAT:RATE:CHANNELS (s16le, s16be, u8, f32le, mulaw, alaw), e.g. s16le:16000:1'
            cand --config 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]'
            cand --password-stdin 'Read the password from the first line of stdin'
            cand --insecure 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
            cand --keep-codec 'Keep the codec --set-codec chose'
            cand --take-over 'Close another client''s session on the channel before opening ours'
            cand --loop 'Repeat the file until stopped (reconnects after faults, like speak)'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand --json 'Print the outcome as one JSON object on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'hiktalk;speak'= {
            cand -u 'User name [default: from the config or URL, else admin]'
            cand --user 'User name [default: from the config or URL, else admin]'
            cand --channel 'Talk channel id [default: the device''s first]'
            cand --tls-fingerprint 'Trust the device''s TLS certificate with this SHA-256 fingerprint'
            cand --connect-timeout 'Seconds allowed to connect'
            cand --timeout 'Seconds allowed for each request and its whole answer; after a stop, for the close'
            cand --codec 'Encode with this codec whatever the channel says (ulaw, alaw, g726, aac, pcm, opus)'
            cand --set-codec 'Switch the channel to this codec first; restored afterwards unless --keep-codec'
            cand --retries 'Reconnect attempts after a fault the user did not cause (speak, play --loop); restored after a minute of good audio, and never more than 20 in an hour'
            cand --volume 'Gain in dB (negative is quieter); peaks are limited, never wrapped'
            cand --stall-timeout 'Seconds a device may stop reading audio before the connection counts as dead'
            cand -i 'Input device: an id or index from `hiktalk devices`, or part of its description'
            cand --input 'Input device: an id or index from `hiktalk devices`, or part of its description'
            cand --vad 'Send silence while the input is quieter than this level (dBFS, e.g. -45)'
            cand --config 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]'
            cand --password-stdin 'Read the password from the first line of stdin'
            cand --insecure 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
            cand --keep-codec 'Keep the codec --set-codec chose'
            cand --take-over 'Close another client''s session on the channel before opening ours'
            cand --ptt 'Push-to-talk: silence until space is pressed, space again to stop (terminal only)'
            cand --stats 'Print latency and drop statistics at the end'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand --json 'Print the outcome as one JSON object on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'hiktalk;devices'= {
            cand --config 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand --json 'Print the outcome as one JSON object on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'hiktalk;status'= {
            cand -u 'User name [default: from the config or URL, else admin]'
            cand --user 'User name [default: from the config or URL, else admin]'
            cand --channel 'Talk channel id [default: the device''s first]'
            cand --tls-fingerprint 'Trust the device''s TLS certificate with this SHA-256 fingerprint'
            cand --connect-timeout 'Seconds allowed to connect'
            cand --timeout 'Seconds allowed for each request and its whole answer; after a stop, for the close'
            cand --config 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]'
            cand --password-stdin 'Read the password from the first line of stdin'
            cand --insecure 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand --json 'Print the outcome as one JSON object on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'hiktalk;close'= {
            cand -u 'User name [default: from the config or URL, else admin]'
            cand --user 'User name [default: from the config or URL, else admin]'
            cand --channel 'Talk channel id [default: the device''s first]'
            cand --tls-fingerprint 'Trust the device''s TLS certificate with this SHA-256 fingerprint'
            cand --connect-timeout 'Seconds allowed to connect'
            cand --timeout 'Seconds allowed for each request and its whole answer; after a stop, for the close'
            cand --config 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]'
            cand --password-stdin 'Read the password from the first line of stdin'
            cand --insecure 'Accept any TLS certificate (prefer tls_fingerprint in the config)'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand --json 'Print the outcome as one JSON object on stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'hiktalk;sim'= {
            cand --listen 'Address to listen on; port 0 picks a free port'
            cand --user 'Device user name'
            cand --password 'Device password'
            cand --profile 'Firmware to play: modern (camera, sessionId required), doorbell (isapi.org namespace, callStatus/callSignal, rings end talk), legacy (PSIA namespace, no sessionId), aac-only (lists G.711, refuses open until the channel is set to AAC)'
            cand --idle-timeout 'Seconds without audio after which the device hangs up an open session ("call ended")'
            cand --stale-expiry 'Seconds a session left by a vanished client blocks the channel'
            cand --lockout-attempts 'Failed logins for one user from one IP before it is locked out [default: 7 for admin, 5 for other users, as older firmware does]'
            cand --lockout-secs 'Seconds a locked-out IP stays locked'
            cand --nonce-lifetime 'Seconds a Digest nonce is valid; older nonces get `stale=TRUE`'
            cand --busy-style 'How a second open on a busy channel is refused: profile (its default), 401, 403, 503, unavailable (503, statusCode 2 serviceUnavailable) or in-progress (403, twoWayAudioInProgressPleaseWait)'
            cand --fault 'Inject a fault (repeatable), e.g. http500=open,times=1; see --help'
            cand --events 'Write every event as a JSON line to this file (`-` for stdout)'
            cand --record-dir 'Record each session''s received audio as a WAV file in this directory'
            cand --channels 'Number of talk channels'
            cand --codec 'Initial channel codec instead of G.711ulaw (ulaw, alaw, g726, aac, pcm)'
            cand --ring-after 'Doorbell: ring this many seconds after an upload starts (the ring ends the talk)'
            cand --ring-duration 'Doorbell: seconds an unanswered ring lasts'
            cand --header-timeout 'Seconds allowed for a request''s headers to arrive (slow clients are dropped)'
            cand --buffer 'Seconds of audio the speaker buffers; audio arriving beyond it is lost and counted as overflow, as a real speaker would lose it'
            cand --require-session-id 'Refuse audioData and close without the sessionId open returned (or with another); [default: on for the doorbell profile, off for cameras, which work without it]'
            cand --expect 'An audioData PUT with `Expect: 100-continue`: `ignore` answers 200 at once, as devices answer every upload (the default; what devices do with Expect is unconfirmed, and a client waiting for 100 Continue then sends nothing), or `continue` answers 100 Continue, reads the announced body as the audio, then answers 200'
            cand --config 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]'
            cand --no-hangup-body 'Close the audioData socket without a ResponseStatus body on a device hang-up'
            cand --basic-challenge 'Add a second `WWW-Authenticate: Basic` header to challenges, as some devices do'
            cand -q 'Print nothing but errors'
            cand --quiet 'Print nothing but errors'
            cand --json 'Print the outcome as one JSON object on stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
