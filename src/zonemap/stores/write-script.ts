/**
 * The one atomic write: compare-and-set on the version, store the map, append the history
 * entry, publish the new version. Redis runs a script without interleaving other commands,
 * so two SREs writing at once cannot both pass the version check.
 *
 * KEYS[1] map hash, KEYS[2] history stream.
 * ARGV[1] expected version ('' = the store must hold no map), ARGV[2] new version,
 * ARGV[3] map JSON, ARGV[4] channel, ARGV[5] history max length, ARGV[6..] history fields.
 * Returns {'ok', new} or {'conflict', actual} (actual '' when no map is stored).
 *
 * The version check runs before any write, so a refused write changes nothing (Redis does
 * not roll back a script that fails half-way).
 */
export const WRITE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'version')
if not current then current = '' end
if current ~= ARGV[1] then return {'conflict', current} end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'json', ARGV[3])
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', unpack(fields))
redis.call('PUBLISH', ARGV[4], ARGV[2])
return {'ok', ARGV[2]}
`;
