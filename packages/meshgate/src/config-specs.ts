// Value specs shared by meshgate's own config sections (certs, istio, linkerd), so a path, a Kubernetes name, a
// host:port or a DNS name is checked, named and documented the same way in every section.
import { dnsNameProblem } from '@meshgate/certs';
import type { Spec } from '@meshgate/config-schema';

export const PATH: Spec = { kind: 'string', nonEmpty: true, typeName: 'path' };

export const KUBE_NAME: Spec = {
  kind: 'string',
  pattern: /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
  hint: 'a Kubernetes name: lower-case letters, digits and -, at most 63 characters',
  typeName: 'name',
};

export const HOST_PORT: Spec = {
  kind: 'string',
  nonEmpty: true,
  check: (s) =>
    /^[^\s:/]+:\d{1,5}$/.test(s) || /^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(s) ? undefined : `"${s}" is not host:port`,
  typeName: 'host:port',
};

/** A DNS name; `what` names it in the message (e.g. "trust domain"). */
export function dnsName(what = 'DNS name'): Spec {
  return {
    kind: 'string',
    nonEmpty: true,
    check: (s) => {
      const why = dnsNameProblem(s);
      return why && `invalid ${what} ${JSON.stringify(s)}: ${why}`;
    },
  };
}
