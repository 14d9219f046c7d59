import { ZonegateError } from '../../core/errors.js';

/**
 * Two writers raced: the store no longer holds the version this write was based on.
 * Re-read the map (`zonegate map show`) and redo the change on top of `actual`.
 */
export class ZoneMapConflictError extends ZonegateError {
  readonly expected: number | null;
  readonly actual: number | null;
  constructor(expected: number | null, actual: number | null) {
    super(
      'ZG_ERR_ZONEMAP_CONFLICT',
      `zone map write refused: it was based on version ${expected ?? 'none'}, but the store now holds ` +
        `version ${actual ?? 'none'} (someone else wrote first); re-read the map and retry`,
      { httpStatus: 409 },
    );
    this.expected = expected;
    this.actual = actual;
  }
}

/** The zone map store (Redis) could not be reached or answered with an error. */
export class ZoneMapStoreUnavailableError extends ZonegateError {
  constructor(message: string, cause?: unknown) {
    super('ZG_ERR_ZONEMAP_STORE_UNAVAILABLE', message, { httpStatus: 503, mqttReasonCode: 0x88, cause });
  }
}

/** The store holds no zone map yet (and no local snapshot could stand in for it). */
export class ZoneMapNotFoundError extends ZonegateError {
  constructor(message: string) {
    super('ZG_ERR_ZONEMAP_NOT_FOUND', message, { httpStatus: 404, mqttReasonCode: 0x88 });
  }
}

/** `map show --version N` / `map rollback N` named a version the history no longer holds. */
export class ZoneMapVersionNotFoundError extends ZonegateError {
  readonly version: number;
  constructor(version: number, oldest: number | null) {
    super(
      'ZG_ERR_ZONEMAP_VERSION_NOT_FOUND',
      `version ${version} is not in the zone map history` +
        (oldest === null ? ' (the history is empty)' : ` (oldest kept: ${oldest})`),
      { httpStatus: 404 },
    );
    this.version = version;
  }
}
