// A signature pad: pointer events (finger, pen or mouse) drawn on a canvas, exported as PNG.

export class SignaturePad {
  constructor(canvas, { onChange } = {}) {
    this.canvas = canvas;
    this.onChange = onChange || (() => {});
    this.strokes = 0;
    this.drawing = null;
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    for (const type of ['pointerup', 'pointercancel', 'pointerleave']) {
      canvas.addEventListener(type, (e) => this.up(e));
    }
    this.resize();
  }

  /** Match the canvas to its size on screen (sharp lines on high-density screens). */
  resize() {
    const ratio = window.devicePixelRatio || 1;
    const box = this.canvas.getBoundingClientRect();
    this.canvas.width = Math.max(1, Math.round(box.width * ratio));
    this.canvas.height = Math.max(1, Math.round(box.height * ratio));
    this.ratio = ratio;
    this.clear();
  }

  clear() {
    const ctx = this.canvas.getContext('2d');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.strokes = 0;
    this.onChange(this);
  }

  get empty() { return this.strokes === 0; }

  /** Canvas pixels of a pointer position (right even after the phone is turned). */
  point(e) {
    const box = this.canvas.getBoundingClientRect();
    this.scale = this.canvas.width / Math.max(1, box.width);
    return {
      x: (e.clientX - box.left) * this.scale,
      y: (e.clientY - box.top) * (this.canvas.height / Math.max(1, box.height)),
    };
  }

  down(e) {
    if (e.button !== undefined && e.button > 0) return;
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    this.drawing = { id: e.pointerId, last: this.point(e), moved: false };
  }

  move(e) {
    if (!this.drawing || e.pointerId !== this.drawing.id) return;
    e.preventDefault();
    const ctx = this.canvas.getContext('2d');
    ctx.strokeStyle = '#111111';
    ctx.lineWidth = 2.5 * (this.scale || this.ratio);
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    ctx.beginPath();
    ctx.moveTo(this.drawing.last.x, this.drawing.last.y);
    for (const ev of events.length ? events : [e]) {
      const p = this.point(ev);
      ctx.lineTo(p.x, p.y);
      this.drawing.last = p;
    }
    ctx.stroke();
    this.drawing.moved = true;
  }

  up(e) {
    if (!this.drawing || e.pointerId !== this.drawing.id) return;
    if (this.drawing.moved) {
      this.strokes += 1;
      this.onChange(this);
    }
    this.drawing = null;
  }

  toBlob() {
    return new Promise((resolve) => this.canvas.toBlob(resolve, 'image/png'));
  }
}
