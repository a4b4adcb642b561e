// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { Event } from "./Event";

export type Envelope = { seq?: number; at: string } & Event;
