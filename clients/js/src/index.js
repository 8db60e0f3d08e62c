// PeerPower's JavaScript client: `import { PeerPower } from "peerpower-client"`. Types: ../index.d.ts.
export { PeerPower, VERSION } from "./client.js";
export {
  ApiError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  InsufficientBalanceError,
  NotFoundError,
  PeerPowerError,
  PermissionDeniedError,
  RateLimitError,
  ServerError,
  SignatureVerificationError,
  TransportError,
  UnprocessableError,
} from "./errors.js";
export { DEFAULT_TOLERANCE_SECONDS, SIGNATURE_HEADER, constructEvent, verifySignature } from "./webhooks.js";
