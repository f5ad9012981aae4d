// Ticket codes as shared/tokens.py writes them, read and verified in the browser, so a door
// device judges scans offline and a forged or altered code never passes:
//   LG1:<base45(payload || signature)>
// payload (60 bytes, big-endian): key id (4), event id (16), ticket id (16), ticket type id
// (16), valid from and valid until (unix seconds, 4 each); the Ed25519 signature (64 bytes)
// covers "LG1" and the payload.

const FORMAT_TAG = "LG1";
const PREFIX = FORMAT_TAG + ":";
const PAYLOAD_BYTES = 60;
const SIGNATURE_BYTES = 64;
const BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

export class TicketCodeError extends Error {
  // verdict: "invalid" (unreadable, bad signature, a retired key or another event's) or
  // "unknown_ticket" (a key never received)
  constructor(verdict, message) {
    super(message);
    this.verdict = verdict;
  }
}

export function base45Decode(text) {
  if (text.length % 3 === 1) throw new TicketCodeError("invalid", "dangling base45 character");
  const out = [];
  for (let index = 0; index < text.length; index += 3) {
    const group = text.slice(index, index + 3);
    let number = 0;
    let weight = 1;
    for (const char of group) {
      const value = BASE45.indexOf(char);
      if (value < 0) throw new TicketCodeError("invalid", "not a base45 character");
      number += value * weight;
      weight *= 45;
    }
    if (group.length === 3) {
      if (number > 0xffff) throw new TicketCodeError("invalid", "base45 group out of range");
      out.push(number >> 8, number & 0xff);
    } else {
      if (number > 0xff) throw new TicketCodeError("invalid", "base45 group out of range");
      out.push(number);
    }
  }
  return Uint8Array.from(out);
}

function hex(bytes) {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function uuid(bytes) {
  const h = hex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function readTicketCode(code) {
  if (typeof code !== "string" || !code.startsWith(PREFIX)) {
    throw new TicketCodeError("invalid", "not a Loopgate ticket");
  }
  const raw = base45Decode(code.slice(PREFIX.length));
  if (raw.length !== PAYLOAD_BYTES + SIGNATURE_BYTES) {
    throw new TicketCodeError("invalid", "wrong length");
  }
  const payload = raw.slice(0, PAYLOAD_BYTES);
  const view = new DataView(payload.buffer);
  const signed = new Uint8Array(FORMAT_TAG.length + PAYLOAD_BYTES);
  signed.set(new TextEncoder().encode(FORMAT_TAG));
  signed.set(payload, FORMAT_TAG.length);
  return {
    keyId: hex(payload.slice(0, 4)),
    eventId: uuid(payload.slice(4, 20)),
    ticketId: uuid(payload.slice(20, 36)),
    ticketTypeId: uuid(payload.slice(36, 52)),
    validFrom: new Date(view.getUint32(52) * 1000),
    validUntil: new Date(view.getUint32(56) * 1000),
    signed,
    signature: raw.slice(PAYLOAD_BYTES),
  };
}

export function canVerify() {
  // WebCrypto exists only on secure pages (HTTPS, or this machine).
  return Boolean(globalThis.crypto && crypto.subtle);
}

// Each key verifies codes of its own event only, and none once retired (judging.py
// checked_code): a leaked or retired key admits nobody.
export async function importPublicKeys(keys) {
  const imported = new Map();
  for (const { key_id: keyId, event_id: eventId, public_key: publicKey, retired_at: retiredAt } of keys) {
    if (retiredAt || !publicKey) {
      imported.set(keyId, { eventId, retired: true });
      continue;
    }
    const raw = Uint8Array.from(atob(publicKey), (char) => char.charCodeAt(0));
    const key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    imported.set(keyId, { eventId, retired: false, key });
  }
  return imported;
}

// The claims of a genuine code; throws TicketCodeError for anything else.
export async function verifyTicketCode(code, publicKeys) {
  const claims = readTicketCode(code);
  const known = publicKeys.get(claims.keyId);
  if (!known) throw new TicketCodeError("unknown_ticket", "signed by a key never received");
  if (known.retired) throw new TicketCodeError("invalid", "signed by a retired key");
  if (known.eventId !== claims.eventId) throw new TicketCodeError("invalid", "signed by another event's key");
  const genuine = await crypto.subtle.verify({ name: "Ed25519" }, known.key, claims.signature, claims.signed);
  if (!genuine) throw new TicketCodeError("invalid", "bad signature");
  return claims;
}
