/** Firmware revision reported in Identify Controller (8 ASCII characters at most). */
export const FIRMWARE_REVISION = '0.1.0';
export const MODEL_NUMBER = 'nvmeof-operator target';
