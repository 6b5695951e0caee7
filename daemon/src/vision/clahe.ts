/**
 * Contrast-limited adaptive histogram equalisation (Zuiderveld 1994) of an RGB crop's
 * luminance: each tile's clipped histogram gives a mapping, bilinearly blended between tile
 * centres; RGB is scaled by the luminance gain so colours keep their hue. Used on the aligned
 * chip before embedding when config vision.clahe is on.
 */
export function claheRgb(rgb: Uint8Array, width: number, height: number, tiles = 4, clipLimit = 2.0): Uint8Array {
  const n = width * height;
  const lum = new Uint8Array(n);
  for (let i = 0, p = 0; i < n; i++, p += 3) lum[i] = Math.min(255, Math.round(0.299 * rgb[p]! + 0.587 * rgb[p + 1]! + 0.114 * rgb[p + 2]!));
  const tw = width / tiles,
    th = height / tiles;
  const maps: Uint8Array[] = [];
  for (let ty = 0; ty < tiles; ty++) {
    for (let tx = 0; tx < tiles; tx++) {
      const hist = new Float64Array(256);
      const x0 = Math.floor(tx * tw),
        x1 = Math.floor((tx + 1) * tw),
        y0 = Math.floor(ty * th),
        y1 = Math.floor((ty + 1) * th);
      const count = (x1 - x0) * (y1 - y0);
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) hist[lum[y * width + x]!]! += 1;
      const limit = Math.max(1, (clipLimit * count) / 256);
      let excess = 0;
      for (let v = 0; v < 256; v++)
        if (hist[v]! > limit) {
          excess += hist[v]! - limit;
          hist[v] = limit;
        }
      const add = excess / 256;
      const map = new Uint8Array(256);
      let cdf = 0;
      for (let v = 0; v < 256; v++) {
        cdf += hist[v]! + add;
        map[v] = Math.min(255, Math.round((cdf / count) * 255));
      }
      maps.push(map);
    }
  }
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < height; y++) {
    const gy = Math.min(tiles - 1, Math.max(0, y / th - 0.5));
    const ty0 = Math.floor(gy),
      ty1 = Math.min(tiles - 1, ty0 + 1),
      fy = gy - ty0;
    for (let x = 0; x < width; x++) {
      const gx = Math.min(tiles - 1, Math.max(0, x / tw - 0.5));
      const tx0 = Math.floor(gx),
        tx1 = Math.min(tiles - 1, tx0 + 1),
        fx = gx - tx0;
      const i = y * width + x;
      const v = lum[i]!;
      const m =
        (1 - fy) * ((1 - fx) * maps[ty0 * tiles + tx0]![v]! + fx * maps[ty0 * tiles + tx1]![v]!) +
        fy * ((1 - fx) * maps[ty1 * tiles + tx0]![v]! + fx * maps[ty1 * tiles + tx1]![v]!);
      const gain = v > 0 ? m / v : 1;
      for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.min(255, Math.round(v > 0 ? rgb[i * 3 + c]! * gain : m));
    }
  }
  return out;
}
