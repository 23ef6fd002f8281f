// How values are shown: times in the viewer's zone, with the exact UTC.

const parts = { month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' };
const thisYear = new Intl.DateTimeFormat(undefined, parts);
const otherYear = new Intl.DateTimeFormat(undefined, { year: 'numeric', ...parts });

/** The activity time in the viewer's time zone (the year only when it is not this one). */
export function localTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return (d.getFullYear() === new Date().getFullYear() ? thisYear : otherYear).format(d);
}

/** The exact UTC instant, as the server sent it (microseconds included). */
export function utcTitle(iso) {
  return `${iso} (UTC)`;
}

export function actorLabel(actor) {
  if (!actor) return '';
  return actor.name || actor.id || actor.kind || '';
}

export function targetLabel(target) {
  if (!target) return '';
  const id = target.id ? `:${target.id}` : '';
  return target.name ? `${target.kind}${id} (${target.name})` : `${target.kind}${id}`;
}

export function duration(us) {
  if (us == null) return '';
  if (us < 1000) return `${us} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(1)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}

/** A `datetime-local` input's value for a UTC ISO instant. */
export function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The UTC ISO instant of a `datetime-local` input's value. */
export function fromLocalInput(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}
