// The verdicts of services/checkin/scanning.py, judged on the device from the offline bundle
// while the network is down, in the same order: invalid, wrong_event, unknown_ticket (an exit
// stops here: nobody is kept from leaving), revoked, not_yet_valid / expired,
// not_allowed_here, already_checked_in, ok. The server judges every queued scan again when it
// is uploaded; its answer is the one recorded.

import { TicketCodeError, canVerify, importPublicKeys, verifyTicketCode } from "./ticket-codes.js";

export class OfflineDoor {
  constructor(bundle) {
    this.bundle = bundle;
    this.tickets = new Map(bundle.tickets.map((ticket) => [ticket.id, ticket]));
    this.revoked = new Set(bundle.revoked);
    this.lists = new Map(bundle.lists.map((item) => [item.id, item]));
    // "list|ticket" -> admissions: {entry_key, scanned_at, list_id, gate, scan_id, exited}
    this.admissions = new Map();
    for (const ticket of bundle.tickets) {
      for (const admission of ticket.admissions) {
        this.#admissionsOf(admission.list_id, ticket.id).push({
          ...admission,
          exited: admission.exited_at !== null,
        });
      }
    }
    this.keys = null;
  }

  async prepare() {
    if (canVerify()) this.keys = await importPublicKeys(this.bundle.keys);
    return this;
  }

  #admissionsOf(listId, ticketId) {
    const key = `${listId}|${ticketId}`;
    if (!this.admissions.has(key)) this.admissions.set(key, []);
    return this.admissions.get(key);
  }

  // scan: {scan_id, payload | ticket_id, list_id, direction, scanned_at}
  async judge(scan) {
    const list = this.lists.get(scan.list_id);
    let facts;
    if (scan.payload !== undefined) {
      if (!this.keys) return { verdict: "unverifiable" };
      try {
        facts = await verifyTicketCode(scan.payload, this.keys);
      } catch (error) {
        if (error instanceof TicketCodeError) return { verdict: error.verdict };
        throw error;
      }
    } else {
      const ticket = this.tickets.get(scan.ticket_id);
      if (!ticket) return { verdict: "unknown_ticket" };
      facts = {
        eventId: ticket.event_id,
        ticketId: ticket.id,
        validFrom: new Date(ticket.valid_from),
        validUntil: new Date(ticket.valid_until),
      };
    }
    if (!list || facts.eventId !== list.event_id) return { verdict: "wrong_event" };
    const ticket = this.tickets.get(facts.ticketId);
    const isRevoked = this.revoked.has(facts.ticketId);
    if (!ticket && !isRevoked) return { verdict: "unknown_ticket", list_id: list.id };
    const seen = { list_id: list.id, ticket: ticket ? this.#ticketView(ticket) : { id: facts.ticketId } };
    const admissions = this.#admissionsOf(list.id, facts.ticketId);
    const at = new Date(scan.scanned_at);
    if (scan.direction === "out") {
      const inside = admissions.find((admission) => !admission.exited);
      if (inside) inside.exited = true;
      return { verdict: "ok", ...seen, was_inside: Boolean(inside) };
    }
    if (isRevoked) return { verdict: "revoked", ...seen };
    const opensAt = latest(facts.validFrom, list.opens_at && new Date(list.opens_at));
    const closesAt = earliest(facts.validUntil, list.closes_at && new Date(list.closes_at));
    const window = { opens_at: opensAt.toISOString(), closes_at: closesAt.toISOString() };
    if (at < opensAt) return { verdict: "not_yet_valid", ...seen, window };
    if (at > closesAt) return { verdict: "expired", ...seen, window };
    if (list.ticket_type_ids && !list.ticket_type_ids.includes(ticket.ticket_type_id)) {
      return { verdict: "not_allowed_here", ...seen };
    }
    const entryKey = entryKeyOf(list, at, admissions.length);
    const earlier =
      list.reentry === "unlimited"
        ? admissions.find((admission) => !admission.exited)
        : admissions.find((admission) => admission.entry_key === entryKey);
    if (earlier) {
      return {
        verdict: "already_checked_in",
        ...seen,
        previous: { scanned_at: earlier.scanned_at, list_id: list.id, gate: earlier.gate, scan_id: earlier.scan_id },
      };
    }
    this.admit(list, facts.ticketId, scan.scan_id, at);
    return { verdict: "ok", ...seen };
  }

  // An entry the server accepted online, or one judged here: later scans must see it.
  admit(list, ticketId, scanId, at) {
    const admissions = this.#admissionsOf(list.id, ticketId);
    for (const admission of admissions) admission.exited = true;
    admissions.push({
      entry_key: entryKeyOf(list, at, admissions.length),
      scanned_at: at.toISOString(),
      list_id: list.id,
      gate: list.name,
      scan_id: scanId,
      exited: false,
    });
  }

  leave(listId, ticketId) {
    const inside = this.#admissionsOf(listId, ticketId).find((admission) => !admission.exited);
    if (inside) inside.exited = true;
  }

  #ticketView(ticket) {
    const { id, event_id, attendee_name, ticket_type_id, ticket_type_name } = ticket;
    return { id, event_id, attendee_name, ticket_type_id, ticket_type_name };
  }

  search(text) {
    const needle = text.trim().toLowerCase();
    if (!needle) return [];
    return this.bundle.tickets
      .filter((ticket) => ticket.attendee_name.toLowerCase().includes(needle) || ticket.id.startsWith(needle))
      .slice(0, 20);
  }
}

// The entry a scan would be under the list's re-entry policy (lists.py EntryRule).
export function entryKeyOf(list, at, admissionsSoFar) {
  if (list.reentry === "daily") {
    const parts = { timeZone: list.timezone, year: "numeric", month: "2-digit", day: "2-digit" };
    return new Intl.DateTimeFormat("en-CA", parts).format(at);
  }
  if (list.reentry === "unlimited") return `visit-${admissionsSoFar + 1}`;
  return "once";
}

function latest(first, second) {
  return second && second > first ? second : first;
}

function earliest(first, second) {
  return second && second < first ? second : first;
}
