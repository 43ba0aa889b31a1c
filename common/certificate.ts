/** Reading X.509 certificates for status: the host names they cover and who issued them. */
import type { X509Certificate } from "node:crypto";

/** DNS names of the subjectAltName; the subject's CN when there are none. */
export function hostsOf(x: X509Certificate): string[] {
  const san = x.subjectAltName;
  if (san !== undefined) {
    const names = san.split(",").map((s) => s.trim()).filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4));
    if (names.length > 0) return names;
  }
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x.subject);
  return cn !== null ? [cn[1]!] : [];
}

/** The issuer's common name, or its whole distinguished name. */
export function issuerOf(x: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x.issuer);
  return cn !== null ? cn[1]! : x.issuer.replace(/\n/g, ", ");
}
