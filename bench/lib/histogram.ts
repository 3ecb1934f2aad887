/** The one histogram shape used by the hub benches: microseconds up to one minute, 3 significant digits. */
import { build, type Histogram } from 'hdr-histogram-js';

export const newHistogram = (): Histogram => build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
