
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'hiktalk' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'hiktalk'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'hiktalk' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the outcome as one JSON object on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('play', 'play', [CompletionResultType]::ParameterValue, 'Stream an audio file (or stdin) to a camera''s speaker in real time')
            [CompletionResult]::new('speak', 'speak', [CompletionResultType]::ParameterValue, 'Talk through a camera with the microphone until Ctrl-C')
            [CompletionResult]::new('listen', 'listen', [CompletionResultType]::ParameterValue, 'Hear what the device''s microphone hears, through the speakers or into a file')
            [CompletionResult]::new('devices', 'devices', [CompletionResultType]::ParameterValue, 'List audio inputs (for `speak --input`) and outputs (for `--output`)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show a device''s model, firmware and talk channels')
            [CompletionResult]::new('close', 'close', [CompletionResultType]::ParameterValue, 'Close a stuck talk session left by any client')
            [CompletionResult]::new('sim', 'sim', [CompletionResultType]::ParameterValue, 'Run a simulated Hikvision device (for tests and demos)')
            break
        }
        'hiktalk;play' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name [default: from the config or URL, else admin]')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'User name [default: from the config or URL, else admin]')
            [CompletionResult]::new('--channel', '--channel', [CompletionResultType]::ParameterName, 'Talk channel id [default: the device''s first]')
            [CompletionResult]::new('--tls-fingerprint', '--tls-fingerprint', [CompletionResultType]::ParameterName, 'Trust the device''s TLS certificate with this SHA-256 fingerprint')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Seconds allowed to connect')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds allowed for each request and its whole answer; after a stop, for the close')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Reconnect attempts after a fault the user did not cause (speak, listen, play --loop); restored after a minute of good audio, and never more than 20 in an hour')
            [CompletionResult]::new('--stall-timeout', '--stall-timeout', [CompletionResultType]::ParameterName, 'Seconds a device may stop reading (or sending) audio before the connection counts as dead')
            [CompletionResult]::new('--codec', '--codec', [CompletionResultType]::ParameterName, 'Encode with this codec whatever the channel says (ulaw, alaw, g726, aac, pcm, opus)')
            [CompletionResult]::new('--set-codec', '--set-codec', [CompletionResultType]::ParameterName, 'Switch the channel to this codec first; restored afterwards unless --keep-codec')
            [CompletionResult]::new('--sync-wait', '--sync-wait', [CompletionResultType]::ParameterName, 'With several cameras: seconds to wait for every session to open before the audio starts; a device later than that joins at the current position')
            [CompletionResult]::new('--volume', '--volume', [CompletionResultType]::ParameterName, 'Gain in dB (negative is quieter); peaks are limited, never wrapped')
            [CompletionResult]::new('--raw-format', '--raw-format', [CompletionResultType]::ParameterName, 'Raw stdin samples as FORMAT:RATE:CHANNELS (s16le, s16be, u8, f32le, mulaw, alaw), e.g. s16le:16000:1')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password from the first line of stdin')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Accept any TLS certificate (prefer tls_fingerprint in the config)')
            [CompletionResult]::new('--take-over', '--take-over', [CompletionResultType]::ParameterName, 'Close another client''s session on the channel before opening ours')
            [CompletionResult]::new('--keep-codec', '--keep-codec', [CompletionResultType]::ParameterName, 'Keep the codec --set-codec chose')
            [CompletionResult]::new('--loop', '--loop', [CompletionResultType]::ParameterName, 'Repeat the file until stopped (reconnects after faults, like speak)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the outcome as one JSON object on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'hiktalk;speak' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name [default: from the config or URL, else admin]')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'User name [default: from the config or URL, else admin]')
            [CompletionResult]::new('--channel', '--channel', [CompletionResultType]::ParameterName, 'Talk channel id [default: the device''s first]')
            [CompletionResult]::new('--tls-fingerprint', '--tls-fingerprint', [CompletionResultType]::ParameterName, 'Trust the device''s TLS certificate with this SHA-256 fingerprint')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Seconds allowed to connect')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds allowed for each request and its whole answer; after a stop, for the close')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Reconnect attempts after a fault the user did not cause (speak, listen, play --loop); restored after a minute of good audio, and never more than 20 in an hour')
            [CompletionResult]::new('--stall-timeout', '--stall-timeout', [CompletionResultType]::ParameterName, 'Seconds a device may stop reading (or sending) audio before the connection counts as dead')
            [CompletionResult]::new('--codec', '--codec', [CompletionResultType]::ParameterName, 'Encode with this codec whatever the channel says (ulaw, alaw, g726, aac, pcm, opus)')
            [CompletionResult]::new('--set-codec', '--set-codec', [CompletionResultType]::ParameterName, 'Switch the channel to this codec first; restored afterwards unless --keep-codec')
            [CompletionResult]::new('--sync-wait', '--sync-wait', [CompletionResultType]::ParameterName, 'With several cameras: seconds to wait for every session to open before the audio starts; a device later than that joins at the current position')
            [CompletionResult]::new('--volume', '--volume', [CompletionResultType]::ParameterName, 'Gain in dB (negative is quieter); peaks are limited, never wrapped')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Input device: an id or index from `hiktalk devices`, or part of its description')
            [CompletionResult]::new('--input', '--input', [CompletionResultType]::ParameterName, 'Input device: an id or index from `hiktalk devices`, or part of its description')
            [CompletionResult]::new('--vad', '--vad', [CompletionResultType]::ParameterName, 'Talk only while the input is louder than this level (dBFS, e.g. -45): the session opens on the first speech and closes after --hold of silence, as often as needed')
            [CompletionResult]::new('--hold', '--hold', [CompletionResultType]::ParameterName, 'With --vad: seconds of silence that close the session (the device''s speaker stops hissing); it reopens on speech')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output device for what the device hears: an id or index from `hiktalk devices`')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password from the first line of stdin')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Accept any TLS certificate (prefer tls_fingerprint in the config)')
            [CompletionResult]::new('--take-over', '--take-over', [CompletionResultType]::ParameterName, 'Close another client''s session on the channel before opening ours')
            [CompletionResult]::new('--keep-codec', '--keep-codec', [CompletionResultType]::ParameterName, 'Keep the codec --set-codec chose')
            [CompletionResult]::new('--ptt', '--ptt', [CompletionResultType]::ParameterName, 'Push-to-talk: silence until space is pressed, space again to stop (terminal only)')
            [CompletionResult]::new('--stats', '--stats', [CompletionResultType]::ParameterName, 'Print latency and drop statistics at the end')
            [CompletionResult]::new('--no-listen', '--no-listen', [CompletionResultType]::ParameterName, 'Talk only: do not play what the device''s microphone hears')
            [CompletionResult]::new('--half-duplex', '--half-duplex', [CompletionResultType]::ParameterName, 'Turn the device down (-30 dB) while you speak, so its echo of your voice is not heard (speech is detected at the --vad level, -45 dBFS by default)')
            [CompletionResult]::new('--echo-cancel', '--echo-cancel', [CompletionResultType]::ParameterName, 'Take the echo of your voice out of what the device sends back (WebRTC echo cancellation; it adapts to the device within a few seconds of speech)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the outcome as one JSON object on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'hiktalk;listen' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name [default: from the config or URL, else admin]')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'User name [default: from the config or URL, else admin]')
            [CompletionResult]::new('--channel', '--channel', [CompletionResultType]::ParameterName, 'Talk channel id [default: the device''s first]')
            [CompletionResult]::new('--tls-fingerprint', '--tls-fingerprint', [CompletionResultType]::ParameterName, 'Trust the device''s TLS certificate with this SHA-256 fingerprint')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Seconds allowed to connect')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds allowed for each request and its whole answer; after a stop, for the close')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Reconnect attempts after a fault the user did not cause (speak, listen, play --loop); restored after a minute of good audio, and never more than 20 in an hour')
            [CompletionResult]::new('--stall-timeout', '--stall-timeout', [CompletionResultType]::ParameterName, 'Seconds a device may stop reading (or sending) audio before the connection counts as dead')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write a WAV file instead of playing (`-` writes it to stdout, for pipes)')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Write a WAV file instead of playing (`-` writes it to stdout, for pipes)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output device: an id or index from `hiktalk devices`, or part of its description')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Stop after this many seconds')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password from the first line of stdin')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Accept any TLS certificate (prefer tls_fingerprint in the config)')
            [CompletionResult]::new('--take-over', '--take-over', [CompletionResultType]::ParameterName, 'Close another client''s session on the channel before opening ours')
            [CompletionResult]::new('--raw', '--raw', [CompletionResultType]::ParameterName, 'With -o: headerless s16le samples instead of WAV')
            [CompletionResult]::new('--stats', '--stats', [CompletionResultType]::ParameterName, 'Print jitter-buffer and network figures at the end')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the outcome as one JSON object on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'hiktalk;devices' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the outcome as one JSON object on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'hiktalk;status' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name [default: from the config or URL, else admin]')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'User name [default: from the config or URL, else admin]')
            [CompletionResult]::new('--channel', '--channel', [CompletionResultType]::ParameterName, 'Talk channel id [default: the device''s first]')
            [CompletionResult]::new('--tls-fingerprint', '--tls-fingerprint', [CompletionResultType]::ParameterName, 'Trust the device''s TLS certificate with this SHA-256 fingerprint')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Seconds allowed to connect')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds allowed for each request and its whole answer; after a stop, for the close')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password from the first line of stdin')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Accept any TLS certificate (prefer tls_fingerprint in the config)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the outcome as one JSON object on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'hiktalk;close' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name [default: from the config or URL, else admin]')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'User name [default: from the config or URL, else admin]')
            [CompletionResult]::new('--channel', '--channel', [CompletionResultType]::ParameterName, 'Talk channel id [default: the device''s first]')
            [CompletionResult]::new('--tls-fingerprint', '--tls-fingerprint', [CompletionResultType]::ParameterName, 'Trust the device''s TLS certificate with this SHA-256 fingerprint')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Seconds allowed to connect')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds allowed for each request and its whole answer; after a stop, for the close')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password from the first line of stdin')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Accept any TLS certificate (prefer tls_fingerprint in the config)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the outcome as one JSON object on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'hiktalk;sim' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on; port 0 picks a free port')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Device user name')
            [CompletionResult]::new('--password', '--password', [CompletionResultType]::ParameterName, 'Device password')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Firmware to play: modern (camera, sessionId required), doorbell (isapi.org namespace, callStatus/callSignal, rings end talk), legacy (PSIA namespace, no sessionId), aac-only (lists G.711, refuses open until the channel is set to AAC)')
            [CompletionResult]::new('--devices', '--devices', [CompletionResultType]::ParameterName, 'Serve N devices from this one process, each with its own port (consecutive from --listen''s, or any free one with port 0), state, log and figures')
            [CompletionResult]::new('--profile-mix', '--profile-mix', [CompletionResultType]::ParameterName, 'The devices'' profiles in proportion, e.g. modern:3,doorbell:1: devices 1-3 are cameras, 4 a doorbell, 5-7 cameras again... (instead of --profile)')
            [CompletionResult]::new('--device-fault', '--device-fault', [CompletionResultType]::ParameterName, 'A fault for device N only (repeatable), e.g. 3:hangup-after-secs=2 (see --fault)')
            [CompletionResult]::new('--device-password', '--device-password', [CompletionResultType]::ParameterName, 'Another password for device N only (repeatable), e.g. 2:other-secret')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Seconds without audio after which the device hangs up an open session ("call ended")')
            [CompletionResult]::new('--stale-expiry', '--stale-expiry', [CompletionResultType]::ParameterName, 'Seconds a session left by a vanished client blocks the channel')
            [CompletionResult]::new('--lockout-attempts', '--lockout-attempts', [CompletionResultType]::ParameterName, 'Failed logins for one user from one IP before it is locked out [default: 7 for admin, 5 for other users, as older firmware does]')
            [CompletionResult]::new('--lockout-secs', '--lockout-secs', [CompletionResultType]::ParameterName, 'Seconds a locked-out IP stays locked')
            [CompletionResult]::new('--nonce-lifetime', '--nonce-lifetime', [CompletionResultType]::ParameterName, 'Seconds a Digest nonce is valid; older nonces get `stale=TRUE`')
            [CompletionResult]::new('--busy-style', '--busy-style', [CompletionResultType]::ParameterName, 'How a second open on a busy channel is refused: profile (its default), 401, 403, 503, unavailable (503, statusCode 2 serviceUnavailable) or in-progress (403, twoWayAudioInProgressPleaseWait)')
            [CompletionResult]::new('--fault', '--fault', [CompletionResultType]::ParameterName, 'Inject a fault (repeatable), e.g. http500=open,times=1; see --help')
            [CompletionResult]::new('--events', '--events', [CompletionResultType]::ParameterName, 'Write every event as a JSON line to this file (`-` for stdout)')
            [CompletionResult]::new('--record-dir', '--record-dir', [CompletionResultType]::ParameterName, 'Record each session''s received audio as a WAV file in this directory')
            [CompletionResult]::new('--channels', '--channels', [CompletionResultType]::ParameterName, 'Number of talk channels')
            [CompletionResult]::new('--codec', '--codec', [CompletionResultType]::ParameterName, 'Initial channel codec instead of G.711ulaw (ulaw, alaw, g726, aac, pcm)')
            [CompletionResult]::new('--ring-after', '--ring-after', [CompletionResultType]::ParameterName, 'Doorbell: ring this many seconds after an upload starts (the ring ends the talk)')
            [CompletionResult]::new('--ring-every', '--ring-every', [CompletionResultType]::ParameterName, 'Doorbell: a visitor rings every SECS seconds from the start')
            [CompletionResult]::new('--ring-at', '--ring-at', [CompletionResultType]::ParameterName, 'Doorbell: a visitor rings SECS seconds after the start (repeatable, or a list: 2,5.5,10)')
            [CompletionResult]::new('--ring-duration', '--ring-duration', [CompletionResultType]::ParameterName, 'Doorbell: the bell timeout: seconds an unanswered ring lasts before the call goes back to idle (logged with cause bellTimeout)')
            [CompletionResult]::new('--bell-timeout', '--bell-timeout', [CompletionResultType]::ParameterName, 'Doorbell: the bell timeout: seconds an unanswered ring lasts before the call goes back to idle (logged with cause bellTimeout)')
            [CompletionResult]::new('--call-signal-style', '--call-signal-style', [CompletionResultType]::ParameterName, 'Doorbell: how callSignal answers: number (statusCode 1, subStatusCode ok) or string (statusCode "1", errorMsg, errorCode, as some firmware writes it)')
            [CompletionResult]::new('--doors', '--doors', [CompletionResultType]::ParameterName, 'Doorbell: number of doors (lock relays); door numbers are 1..=N')
            [CompletionResult]::new('--door-api', '--door-api', [CompletionResultType]::ParameterName, 'Doorbell: the door API: remote-control (PUT /ISAPI/AccessControl/RemoteControl/door/N with RemoteControlDoor), remote-open-door (only PUT /ISAPI/VideoIntercom/remoteOpenDoor with RemoteOpenDoor, as older units), or both')
            [CompletionResult]::new('--door-open-time', '--door-open-time', [CompletionResultType]::ParameterName, 'Doorbell: seconds an opened door stays unlocked before it relocks')
            [CompletionResult]::new('--heartbeat', '--heartbeat', [CompletionResultType]::ParameterName, 'Seconds between alertStream heartbeats (videoloss, inactive); clients take 40-60 s without a part for a dead stream')
            [CompletionResult]::new('--event-every', '--event-every', [CompletionResultType]::ParameterName, 'Cameras: a motion (VMD) alarm, then a line crossing, and so on, on the alertStream every SECS seconds')
            [CompletionResult]::new('--header-timeout', '--header-timeout', [CompletionResultType]::ParameterName, 'Seconds allowed for a request''s headers to arrive (slow clients are dropped)')
            [CompletionResult]::new('--buffer', '--buffer', [CompletionResultType]::ParameterName, 'Seconds of audio the speaker buffers; audio arriving beyond it is lost and counted as overflow, as a real speaker would lose it')
            [CompletionResult]::new('--require-session-id', '--require-session-id', [CompletionResultType]::ParameterName, 'Refuse audioData and close without the sessionId open returned (or with another); [default: on for the doorbell profile, off for cameras, which work without it]')
            [CompletionResult]::new('--expect', '--expect', [CompletionResultType]::ParameterName, 'An audioData PUT with `Expect: 100-continue`: `ignore` answers 200 at once, as devices answer every upload (the default; what devices do with Expect is unconfirmed, and a client waiting for 100 Continue then sends nothing), or `continue` answers 100 Continue, reads the announced body as the audio, then answers 200')
            [CompletionResult]::new('--mic', '--mic', [CompletionResultType]::ParameterName, 'The device microphone (audioData GET) hears this audio file (WAV, MP3, FLAC, Ogg Vorbis), looped from its first 10 minutes, instead of a 440 Hz tone; it is decoded at start and the start fails if it cannot be')
            [CompletionResult]::new('--inbound-codec', '--inbound-codec', [CompletionResultType]::ParameterName, 'The microphone''s codec (ulaw, alaw, g726, aac, pcm), written as audioInboundCompressionType on every channel; without it the microphone uses the channel''s audioCompressionType. G.711 and G.726 run at 8 kHz, others at the channel''s audioSamplingRate')
            [CompletionResult]::new('--mic-aac', '--mic-aac', [CompletionResultType]::ParameterName, 'AAC framing of the microphone stream: prefixed (each ADTS frame after its 4-byte big-endian length, as uploads carry it) or bare (plain ADTS frames)')
            [CompletionResult]::new('--mic-framing', '--mic-framing', [CompletionResultType]::ParameterName, 'HTTP framing of the microphone stream: until-close (no Content-Length), length (Content-Length: 2147483647) or chunked (a chunk per codec frame) [default: the profile''s: until-close for modern and aac-only, length for doorbell, chunked for legacy]')
            [CompletionResult]::new('--mic-echo', '--mic-echo', [CompletionResultType]::ParameterName, 'The device hears its own speaker: the microphone picks up what the channel''s speaker played MS milliseconds earlier, at DB (0 or less; default -6), e.g. 120:-6')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]')
            [CompletionResult]::new('--no-hangup-body', '--no-hangup-body', [CompletionResultType]::ParameterName, 'Close the audioData socket without a ResponseStatus body on a device hang-up')
            [CompletionResult]::new('--basic-challenge', '--basic-challenge', [CompletionResultType]::ParameterName, 'Add a second `WWW-Authenticate: Basic` header to challenges, as some devices do')
            [CompletionResult]::new('--no-call-control', '--no-call-control', [CompletionResultType]::ParameterName, 'Doorbell: play an old unit (DS-KB6003) without call control: callStatus, callSignal, callerInfo and DELETE ring answer 404 "Can''t locate the url". Rings still end talk')
            [CompletionResult]::new('--call-status-xml', '--call-status-xml', [CompletionResultType]::ParameterName, 'Doorbell: answer callStatus in XML even when asked for JSON, as old firmware does')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the outcome as one JSON object on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
