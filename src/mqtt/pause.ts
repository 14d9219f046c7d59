/**
 * Why a side's reading is paused. Bits, so each cause is lifted on its own and reading resumes
 * only when none is left.
 */

/** The other side cannot write (its socket needs 'drain'). */
export const PAUSE_DRAIN = 1;
/**
 * Client -> broker: the inflight window is full. Broker -> client: twice the window of
 * deliveries is held by the gateway (connection.ts applyLinkPause).
 */
export const PAUSE_WINDOW = 2;
/** The client waits for its CONNACK (frames pipelined after CONNECT are held, bounded). */
export const PAUSE_CONNACK = 4;
