import { ConnInfoError } from '../errors.js';

type Options = ReadonlyMap<string, string>;

const ENUMS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['channel_binding', ['disable', 'prefer', 'require']],
  ['sslmode', ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']],
  ['sslnegotiation', ['postgres', 'direct']],
];
const LATER_ENUMS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['sslcertmode', ['disable', 'allow', 'require']],
  ['gssencmode', ['disable', 'prefer', 'require']],
  ['target_session_attrs', ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby']],
  ['load_balance_hosts', ['disable', 'random']],
];

function invalid(keyword: string, value: string): ConnInfoError {
  return new ConnInfoError(`invalid ${keyword} value: "${value}"`);
}

function checkEnums(options: Options, table: typeof ENUMS): void {
  for (const [keyword, allowed] of table) {
    const value = options.get(keyword);
    if (value !== undefined && !allowed.includes(value)) throw invalid(keyword, value);
  }
}

const AUTH_METHODS = ['password', 'md5', 'gss', 'sspi', 'scram-sha-256', 'oauth'];

/** libpq 16+'s `require_auth`: a comma list of methods, all negated (`!md5`) or none. */
function checkRequireAuth(value: string | undefined): void {
  if (value === undefined || value === '') return;
  const seen = new Set<string>();
  let negated = false;
  let authRequired = true;
  value.split(',').forEach((part, index) => {
    let method = part;
    if (method.startsWith('!')) {
      if (index === 0) authRequired = false;
      else if (!negated) throw new ConnInfoError(`negative require_auth method "${method}" cannot be mixed with non-negative methods`);
      negated = true;
      method = method.slice(1);
    } else if (negated) {
      throw new ConnInfoError(`require_auth method "${method}" cannot be mixed with negative methods`);
    }
    const duplicate = new ConnInfoError(`require_auth method "${part}" is specified more than once`);
    if (method === 'none') {
      if (authRequired === negated) throw duplicate;
      authRequired = negated;
      return;
    }
    if (!AUTH_METHODS.includes(method)) throw invalid('require_auth', method);
    if (seen.has(method)) throw duplicate;
    seen.add(method);
  });
}

const TLS_VERSIONS = ['tlsv1', 'tlsv1.1', 'tlsv1.2', 'tlsv1.3'];

function checkTlsVersion(keyword: string, value: string | undefined): void {
  if (value && !TLS_VERSIONS.includes(value.toLowerCase())) throw invalid(keyword, value);
}

function checkTlsRange(min: string | undefined, max: string | undefined): void {
  if (!min || !max) return;
  const lo = min.toLowerCase();
  const hi = max.toLowerCase();
  if (lo === 'tlsv1') return;
  if (hi === 'tlsv1' || lo > hi) throw new ConnInfoError('invalid SSL protocol version range');
}

function checkSsl(options: Options): void {
  const sslmode = options.get('sslmode') ?? 'prefer';
  const weak = ['disable', 'allow', 'prefer'].includes(sslmode);
  if (options.get('sslnegotiation') === 'direct' && weak) {
    throw new ConnInfoError(
      `weak sslmode "${sslmode}" may not be used with sslnegotiation=direct (use "require", "verify-ca", or "verify-full")`,
    );
  }
  if (options.get('sslrootcert') === 'system' && sslmode !== 'verify-full') {
    throw new ConnInfoError(`weak sslmode "${sslmode}" may not be used with sslrootcert=system (use "verify-full")`);
  }
  checkTlsVersion('ssl_min_protocol_version', options.get('ssl_min_protocol_version'));
  checkTlsVersion('ssl_max_protocol_version', options.get('ssl_max_protocol_version'));
  checkTlsRange(options.get('ssl_min_protocol_version'), options.get('ssl_max_protocol_version'));
}

const PROTOCOL_VERSIONS = new Map([
  ['3.0', 30000],
  ['3.2', 30002],
  ['latest', 30002],
]);

function protocolVersion(keyword: string, value: string): number {
  const version = PROTOCOL_VERSIONS.get(value);
  if (version === undefined) throw invalid(keyword, value);
  return version;
}

/** libpq 18's wire-protocol bounds: min defaults to 3.0; max to 3.0, or to the latest when min is above 3.0. */
function checkProtocolVersions(options: Options): void {
  const minText = options.get('min_protocol_version');
  const maxText = options.get('max_protocol_version');
  const min = minText ? protocolVersion('min_protocol_version', minText) : 30000;
  const max = maxText ? protocolVersion('max_protocol_version', maxText) : min > 30000 ? 30002 : 30000;
  if (min > max) throw new ConnInfoError('"min_protocol_version" is greater than "max_protocol_version"');
}

/**
 * The option checks libpq 18's `pqConnectOptions2` makes after the host and
 * port lists, in its order; only the first failure is reported.
 */
export function validateOptions(options: Options): void {
  checkRequireAuth(options.get('require_auth'));
  checkEnums(options, ENUMS);
  checkSsl(options);
  checkEnums(options, LATER_ENUMS);
  checkProtocolVersions(options);
}
