import type { ServiceContext } from '../controller.js';
import { UnavailableFaceServices, type FaceServices } from './faceServices.js';

/** The admin's view of vision and the camera. Wired to the enroller and camera once they run on the unit. */
export function faceServicesFor(_ctx: ServiceContext): FaceServices {
  return new UnavailableFaceServices();
}
