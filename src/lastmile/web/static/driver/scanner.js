// Parcel barcodes and QR codes with the camera, where the browser has BarcodeDetector.

export const canScan = 'BarcodeDetector' in window && !!navigator.mediaDevices?.getUserMedia;

/** Scan until a code is read or `signal` aborts; resolves with the code or null. */
export async function scanOnce(video, signal) {
  const formats = await window.BarcodeDetector.getSupportedFormats?.().catch(() => null);
  const detector = new window.BarcodeDetector(formats && formats.length ? { formats } : undefined);
  const media = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: { ideal: 'environment' } }, audio: false,
  });
  try {
    video.srcObject = media;
    await video.play();
    while (!signal.aborted) {
      const codes = await detector.detect(video).catch(() => []);
      const code = codes.find((c) => c.rawValue);
      if (code) {
        navigator.vibrate?.(80);
        return code.rawValue;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return null;
  } finally {
    for (const track of media.getTracks()) track.stop();
    video.srcObject = null;
  }
}
