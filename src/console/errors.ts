import { ZonegateError } from '../core/errors.js';

/**
 * A state-changing console request came from another origin (Origin / Sec-Fetch-Site), or any
 * request named a Host the console does not answer to (DNS rebinding). Nothing changed.
 */
export class ConsoleForbiddenError extends ZonegateError {
  constructor(message: string) {
    super('ZG_ERR_CONSOLE_FORBIDDEN', message, { httpStatus: 403 });
  }
}

/** No console page or API at this path and method. */
export class ConsoleNotFoundError extends ZonegateError {
  constructor(method: string, path: string) {
    super('ZG_ERR_CONSOLE_NOT_FOUND', `no console endpoint ${method} ${path}`, { httpStatus: 404 });
  }
}

/** A console API request body was not the JSON it needs (wrong type, too large, malformed). */
export class ConsoleRequestError extends ZonegateError {
  constructor(message: string, httpStatus = 400) {
    super('ZG_ERR_CONSOLE_REQUEST', message, { httpStatus });
  }
}

/** The console's built page (dist/console-web) is missing: run `npm run build`. */
export class ConsoleAssetsMissingError extends ZonegateError {
  constructor(dir: string) {
    super(
      'ZG_ERR_CONSOLE_ASSETS',
      `the console page is not built (no ${dir}/index.html); run npm run build`,
      {
        httpStatus: 500,
      },
    );
  }
}
