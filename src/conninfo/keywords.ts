/**
 * The connection keywords libpq 18 accepts, in the order of its option table
 * (`PQconninfoOptions`), with the environment variable that supplies a default
 * and the compiled-in default of a Debian build (SSL and GSSAPI enabled).
 */
export interface KeywordSpec {
  readonly keyword: string;
  readonly envVar: string | null;
  readonly compiled: string | null;
  /** libpq's dispchar `*`: the value is a secret and is never shown. */
  readonly secret: boolean;
}

const spec = (keyword: string, envVar: string | null, compiled: string | null = null, secret = false): KeywordSpec =>
  Object.freeze({ keyword, envVar, compiled, secret });

export const KEYWORDS: readonly KeywordSpec[] = Object.freeze([
  spec('service', 'PGSERVICE'),
  spec('user', 'PGUSER'),
  spec('password', 'PGPASSWORD', null, true),
  spec('passfile', 'PGPASSFILE'),
  spec('channel_binding', 'PGCHANNELBINDING', 'prefer'),
  spec('connect_timeout', 'PGCONNECT_TIMEOUT'),
  spec('dbname', 'PGDATABASE'),
  spec('host', 'PGHOST'),
  spec('hostaddr', 'PGHOSTADDR'),
  spec('port', 'PGPORT', '5432'),
  spec('client_encoding', 'PGCLIENTENCODING'),
  spec('options', 'PGOPTIONS', ''),
  spec('application_name', 'PGAPPNAME'),
  spec('fallback_application_name', null),
  spec('keepalives', null),
  spec('keepalives_idle', null),
  spec('keepalives_interval', null),
  spec('keepalives_count', null),
  spec('tcp_user_timeout', null),
  spec('sslmode', 'PGSSLMODE', 'prefer'),
  spec('sslnegotiation', 'PGSSLNEGOTIATION', 'postgres'),
  spec('sslcompression', 'PGSSLCOMPRESSION', '0'),
  spec('sslcert', 'PGSSLCERT'),
  spec('sslkey', 'PGSSLKEY'),
  spec('sslkeylogfile', 'PGSSLKEYLOGFILE'),
  spec('sslcertmode', 'PGSSLCERTMODE', 'allow'),
  spec('sslpassword', null, null, true),
  spec('sslrootcert', 'PGSSLROOTCERT'),
  spec('sslcrl', 'PGSSLCRL'),
  spec('sslcrldir', 'PGSSLCRLDIR'),
  spec('sslsni', 'PGSSLSNI', '1'),
  spec('requirepeer', 'PGREQUIREPEER'),
  spec('require_auth', 'PGREQUIREAUTH'),
  spec('min_protocol_version', 'PGMINPROTOCOLVERSION'),
  spec('max_protocol_version', 'PGMAXPROTOCOLVERSION'),
  spec('ssl_min_protocol_version', 'PGSSLMINPROTOCOLVERSION', 'TLSv1.2'),
  spec('ssl_max_protocol_version', 'PGSSLMAXPROTOCOLVERSION'),
  spec('gssencmode', 'PGGSSENCMODE', 'prefer'),
  spec('krbsrvname', 'PGKRBSRVNAME', 'postgres'),
  spec('gsslib', 'PGGSSLIB'),
  spec('gssdelegation', 'PGGSSDELEGATION', '0'),
  spec('replication', null),
  spec('target_session_attrs', 'PGTARGETSESSIONATTRS', 'any'),
  spec('load_balance_hosts', 'PGLOADBALANCEHOSTS', 'disable'),
  spec('scram_client_key', null, null, true),
  spec('scram_server_key', null, null, true),
  spec('oauth_issuer', null),
  spec('oauth_client_id', null),
  spec('oauth_client_secret', null, null, true),
  spec('oauth_scope', null),
]);

const BY_NAME = new Map(KEYWORDS.map((k) => [k.keyword, k]));

export function findKeyword(keyword: string): KeywordSpec | undefined {
  return BY_NAME.get(keyword);
}

/** What pg-split prints in place of a password. */
export const MASK = '********';

export function isSecretKeyword(keyword: string): boolean {
  return BY_NAME.get(keyword)?.secret ?? false;
}
