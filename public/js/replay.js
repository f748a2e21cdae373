// Playback of a finished run: play and pause, 0.1x to 100x of the run's own pace, and a
// scrubber over its whole duration. It only keeps the instant; whoever owns it draws the run
// as it stood then (onSeek).

import { h } from './dom.js';
import { ms } from './format.js';

export const SPEEDS = [0.1, 1, 10, 100];
/** Most redraws a second while playing: a run of 100,000 tasks must not pin the main thread. */
const MIN_FRAME_MS = 33;

export class ReplayControls {
  /**
   * @param {number} endMs the run's duration (its own time)
   * @param {(t: number) => void} onSeek called with the instant to show
   */
  constructor(endMs, onSeek) {
    this.endMs = Math.max(0, endMs);
    this.onSeek = onSeek;
    this.t = this.endMs;
    this.speed = 1;
    this.playing = false;
    this.frame = 0;
    this.playButton = h('button', { type: 'button', class: 'btn replay-play', 'data-testid': 'replay-play',
      'aria-label': 'Play', onclick: () => this.toggle() }, '▶');
    this.speedSelect = h('select', { class: 'replay-speed', 'data-testid': 'replay-speed', 'aria-label': 'Playback speed',
      onchange: () => { this.speed = Number(this.speedSelect.value); } },
    SPEEDS.map((speed) => h('option', { value: speed, selected: speed === 1 }, `${speed}×`)));
    this.scrubber = h('input', { type: 'range', class: 'replay-scrubber', 'data-testid': 'replay-scrubber',
      min: 0, max: this.endMs, step: 'any', value: this.endMs, 'aria-label': 'Instant of the run shown',
      oninput: () => this.seek(Number(this.scrubber.value), { fromScrubber: true }) });
    this.readout = h('output', { class: 'replay-readout', 'data-testid': 'replay-time', 'aria-live': 'off' });
    this.element = h('div', { class: 'replay', 'data-testid': 'replay', role: 'group', 'aria-label': 'Replay' },
      this.playButton, this.speedSelect, this.scrubber, this.readout);
    this.showTime();
  }

  /** Shows `t` (clamped to the run) and asks for it to be drawn. */
  seek(t, { fromScrubber = false } = {}) {
    this.t = Math.min(this.endMs, Math.max(0, Number.isFinite(t) ? t : 0));
    if (!fromScrubber) this.scrubber.value = String(this.t);
    this.showTime();
    this.onSeek(this.t);
  }

  showTime() {
    this.readout.textContent = `${ms(this.t)} of ${ms(this.endMs)}`;
    this.element.dataset.t = String(this.t);
    this.element.dataset.playing = String(this.playing);
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }

  /** Plays from the current instant (from the start when at the end). */
  play() {
    if (this.endMs <= 0) return;
    if (this.t >= this.endMs) this.seek(0);
    this.playing = true;
    this.playButton.textContent = '❚❚';
    this.playButton.setAttribute('aria-label', 'Pause');
    let last = performance.now();
    let drawn = 0;
    const step = (now) => {
      if (!this.playing) return;
      const elapsed = now - last;
      last = now;
      this.t = Math.min(this.endMs, this.t + elapsed * this.speed);
      if (now - drawn >= MIN_FRAME_MS || this.t >= this.endMs) {
        drawn = now;
        this.seek(this.t);
      }
      if (this.t >= this.endMs) this.pause();
      else this.frame = requestAnimationFrame(step);
    };
    this.frame = requestAnimationFrame(step);
    this.showTime();
  }

  pause() {
    const wasPlaying = this.playing;
    this.playing = false;
    cancelAnimationFrame(this.frame);
    // Frames are drawn at most every MIN_FRAME_MS: show the very instant it stopped at.
    if (wasPlaying) this.seek(this.t);
    this.playButton.textContent = '▶';
    this.playButton.setAttribute('aria-label', 'Play');
    this.showTime();
  }

  dispose() {
    this.pause();
  }
}
