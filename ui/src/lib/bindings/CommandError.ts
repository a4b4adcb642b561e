// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { ErrorCode } from "./ErrorCode";

export type CommandError = { code: ErrorCode; message: string };
