// The handset's audio threads. `capture`: the microphone in 20 ms pieces to the page (which
// sends them), each with the context time of its first sample. `playback`: the device's microphone from the page, through a small jitter
// buffer: it starts once PRIME is buffered, plays silence and primes again when it runs dry,
// and drops the oldest audio when more than MAX waits (a burst after a stall is late audio).

class Capture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.frame = Math.round(sampleRate / 50);
    this.buf = new Float32Array(this.frame);
    this.at = 0;
  }
  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    for (let i = 0; i < input.length; i++) {
      if (this.at === 0) this.t = currentTime + i / sampleRate;
      this.buf[this.at++] = input[i];
      if (this.at === this.frame) {
        this.port.postMessage({ pcm: this.buf, t: this.t });
        this.buf = new Float32Array(this.frame);
        this.at = 0;
      }
    }
    return true;
  }
}

const PRIME = 0.06;
const MAX = 0.25;

class Playback extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ring = new Float32Array(sampleRate * 2);
    this.read = 0;
    this.size = 0;
    this.playing = false;
    this.underruns = 0;
    this.port.onmessage = (e) => this.push(e.data);
  }
  push(pcm) {
    const cap = this.ring.length;
    for (let i = 0; i < pcm.length; i++) {
      if (this.size === cap) { this.read = (this.read + 1) % cap; this.size--; }
      this.ring[(this.read + this.size) % cap] = pcm[i] / 32768;
      this.size++;
    }
    const max = Math.round(MAX * sampleRate);
    if (this.size > max) {
      const drop = this.size - Math.round(PRIME * sampleRate);
      this.read = (this.read + drop) % cap;
      this.size -= drop;
    }
    if (!this.playing && this.size >= PRIME * sampleRate) this.playing = true;
    this.port.postMessage({ buffered: this.size / sampleRate, underruns: this.underruns });
  }
  process(_inputs, outputs) {
    const out = outputs[0][0];
    if (!this.playing) { out.fill(0); return true; }
    const cap = this.ring.length;
    for (let i = 0; i < out.length; i++) {
      if (this.size === 0) {
        out.fill(0, i);
        this.playing = false;
        this.underruns++;
        break;
      }
      out[i] = this.ring[this.read];
      this.read = (this.read + 1) % cap;
      this.size--;
    }
    return true;
  }
}

registerProcessor('capture', Capture);
registerProcessor('playback', Playback);
