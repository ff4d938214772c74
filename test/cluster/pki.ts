// Certificates, service-account keys and kubeconfigs for the local cluster, made
// with openssl (ECDSA P-256: fast to generate, accepted by every component).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertSpec {
  /** file stem: <name>.crt, <name>.key */
  name: string;
  cn: string;
  org?: string;
  /** DNS names and IP addresses */
  dns?: string[];
  ips?: string[];
  server?: boolean;
  client?: boolean;
}

export class Pki {
  constructor(
    readonly dir: string,
    private readonly openssl = 'openssl',
  ) {}

  path(name: string, ext: 'crt' | 'key' | 'pub'): string {
    return join(this.dir, `${name}.${ext}`);
  }

  private run(args: string[]): void {
    execFileSync(this.openssl, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  private key(name: string): void {
    this.run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', this.path(name, 'key')]);
  }

  /** The cluster's CA (ca), the front proxy's CA (front-proxy-ca), the service-account signing key pair (sa). */
  init(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const [name, cn] of [['ca', 'nvmeof-operator-test-ca'], ['front-proxy-ca', 'nvmeof-operator-test-front-proxy-ca']]) {
      this.key(name);
      this.run([
        'req', '-x509', '-new', '-key', this.path(name, 'key'), '-subj', `/CN=${cn}`,
        '-days', '3650', '-sha256', '-out', this.path(name, 'crt'),
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,digitalSignature,keyCertSign,cRLSign',
      ]);
    }
    this.key('sa');
    this.run(['pkey', '-in', this.path('sa', 'key'), '-pubout', '-out', this.path('sa', 'pub')]);
  }

  /** Issues a certificate signed by `ca` (or by the CA named in spec.ca). */
  issue(spec: CertSpec & { ca?: string }): void {
    this.key(spec.name);
    const csr = join(this.dir, `${spec.name}.csr`);
    const ext = join(this.dir, `${spec.name}.ext`);
    const subj = `${spec.org ? `/O=${spec.org}` : ''}/CN=${spec.cn}`;
    this.run(['req', '-new', '-key', this.path(spec.name, 'key'), '-subj', subj, '-out', csr]);
    const usage = [spec.server ? 'serverAuth' : '', spec.client ? 'clientAuth' : ''].filter(Boolean).join(',');
    const sans = [...(spec.dns ?? []).map((d) => `DNS:${d}`), ...(spec.ips ?? []).map((i) => `IP:${i}`)];
    writeFileSync(
      ext,
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        `extendedKeyUsage=${usage || 'clientAuth'}`,
        ...(sans.length ? [`subjectAltName=${sans.join(',')}`] : []),
      ].join('\n') + '\n',
    );
    this.run([
      'x509', '-req', '-in', csr, '-CA', this.path(spec.ca ?? 'ca', 'crt'), '-CAkey', this.path(spec.ca ?? 'ca', 'key'),
      '-CAcreateserial', '-days', '365', '-sha256', '-extfile', ext, '-out', this.path(spec.name, 'crt'),
    ]);
    rmSync(csr);
    rmSync(ext);
  }

  /** A kubeconfig with the CA, the client certificate and key embedded. */
  kubeconfig(file: string, server: string, certName: string, user: string): void {
    const b64 = (p: string) => readFileSync(p).toString('base64');
    writeFileSync(
      file,
      `apiVersion: v1
kind: Config
clusters:
- name: nvmeof
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(this.path('ca', 'crt'))}
users:
- name: ${user}
  user:
    client-certificate-data: ${b64(this.path(certName, 'crt'))}
    client-key-data: ${b64(this.path(certName, 'key'))}
contexts:
- name: ${user}@nvmeof
  context:
    cluster: nvmeof
    user: ${user}
current-context: ${user}@nvmeof
`,
      { mode: 0o600 },
    );
  }
}
